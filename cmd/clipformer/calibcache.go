package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipformer/clipformer/internal/filehash"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
)

// calibrationCache keeps static K/V scales on disk, keyed by the checkpoint's
// sha256, the calibration images themselves (dataset.Fingerprint: pixel bytes,
// or each file's path, size and modification time) and the image count, so
// repeated evaluations of a large model calibrate once, and a set of the same
// name with other images never reuses an entry. An unreadable or stale entry
// is recomputed, never trusted; a set that cannot be fingerprinted is not
// cached.
type calibrationCache struct {
	dir string // "" disables the cache
}

func newCalibrationCache() calibrationCache {
	if d := os.Getenv("CLIPFORMER_CACHE"); d != "" {
		if d == "off" {
			return calibrationCache{}
		}
		return calibrationCache{dir: d}
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return calibrationCache{}
	}
	return calibrationCache{dir: filepath.Join(d, "clipformer", "kv-scales")}
}

// scales returns the cached scales or computes and stores them.
func (c calibrationCache) scales(ctx context.Context, modelPath string, m *vit.Model, data dataset.Dataset, n, workers int) (*sim.KVScales, error) {
	var file string
	if c.dir != "" {
		sum, err := filehash.SHA256(modelPath)
		var images string
		if err == nil {
			images, err = dataset.Fingerprint(data, n)
		}
		if err == nil {
			key := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d", sum, images, n)))
			file = filepath.Join(c.dir, hex.EncodeToString(key[:16])+".json")
			if b, err := os.ReadFile(file); err == nil {
				var kv sim.KVScales
				if json.Unmarshal(b, &kv) == nil && kv.Blocks == m.Depth && kv.Heads == m.Heads && len(kv.K) == m.Depth*m.Heads && len(kv.V) == len(kv.K) {
					return &kv, nil
				}
			}
		}
	}
	kv, err := sim.CalibrateKV(ctx, m, data, n, workers)
	if err != nil {
		return nil, err
	}
	if file != "" {
		if b, err := json.Marshal(kv); err == nil && os.MkdirAll(c.dir, 0o755) == nil {
			tmp := file + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, file) // best effort: a failed cache write only costs a recomputation
			}
		}
	}
	return kv, nil
}
