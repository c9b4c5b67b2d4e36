package worker

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/safetensors"
	"github.com/clipformer/clipformer/sim/vit"
)

// writeFolder writes root/cK/NN.png, classes x perClass small pictures;
// shade tells one folder's pictures from another's.
func writeFolder(t *testing.T, root string, classes, perClass int, shade uint8) string {
	t.Helper()
	for c := 0; c < classes; c++ {
		for i := 0; i < perClass; i++ {
			img := image.NewNRGBA(image.Rect(0, 0, 32, 24))
			for p := 0; p < 32*24; p++ {
				img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2], img.Pix[4*p+3] = uint8(p)+shade, uint8(60*c+9*i), shade^uint8(p/32*7), 255
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, fmt.Sprintf("c%d", c), fmt.Sprintf("%02d.png", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// folderScales runs the executor's calibration for a sweep over an image
// folder with a tiny 224 x 224 colour model.
func folderScales(t *testing.T, e *Executor, model, dir string) *sim.KVScales {
	t.Helper()
	spec, err := sweep.Parse("t.yaml", []byte("model: {path: "+model+"}\ndataset: {kind: folder, path: "+dir+", limit: 2}\ngrid: {gamma: [2]}\nimages_per_shard: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Model(spec.Model)
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.Dataset(spec.Dataset, m)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := e.kvScales(context.Background(), spec, m, data, 256)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func rgbModelFile(t *testing.T) string {
	t.Helper()
	c := vit.Config{Arch: "test-rgb", ImgSize: 224, InChans: 3, Patch: 16, Dim: 32, Depth: 1, Heads: 2, MLPHidden: 64, Classes: 2,
		Mean: vit.ImageNetMean, Std: vit.ImageNetStd}
	m, err := vit.Synth(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rgb.safetensors")
	if err := safetensors.Write(path, m.Tensors(), m.Metadata(), "F32"); err != nil {
		t.Fatal(err)
	}
	return path
}

// The worker calibrates where eval does: on train/ of a split folder, on a
// class-stratified sample of a folder without one; and two folders of one
// name get their own scales.
func TestExecutorCalibratesImageFoldersAsEval(t *testing.T) {
	model := rgbModelFile(t)
	e := &Executor{Threads: 1, AllowUnchecked: true}

	split := t.TempDir()
	writeFolder(t, filepath.Join(split, "train"), 2, 2, 0)
	writeFolder(t, filepath.Join(split, "val"), 2, 1, 77)
	if kv := folderScales(t, e, model, split); kv.Source != filepath.Base(split)+"-train" || kv.Images != 4 {
		t.Fatalf("split folder: calibrated on %s, want the 4 images of train/", kv.Description())
	}

	a := writeFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 0)
	b := writeFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 150)
	ka, kb := folderScales(t, e, model, a), folderScales(t, e, model, b)
	if !strings.Contains(ka.Source, "class-stratified") {
		t.Fatalf("a folder without train/ calibrated on %s, want a class-stratified sample", ka.Description())
	}
	if slices.Equal(ka.K, kb.K) && slices.Equal(ka.V, kb.V) {
		t.Fatal("two folders named imgs with other images share their K/V scales")
	}
	fresh := folderScales(t, &Executor{Threads: 1, AllowUnchecked: true}, model, b)
	if !slices.Equal(fresh.K, kb.K) || !slices.Equal(fresh.V, kb.V) {
		t.Fatal("folder b's scales depend on the folder calibrated before it")
	}
}
