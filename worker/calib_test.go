package worker

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/sim"
)

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

// The worker calibrates where eval does: on train/ of a split folder, on a
// class-stratified sample of a folder without one; and two folders of one
// name get their own scales.
func TestExecutorCalibratesImageFoldersAsEval(t *testing.T) {
	model := simtest.RGBModel(t, 2, 3)
	e := &Executor{Threads: 1, AllowUnchecked: true}

	split := t.TempDir()
	simtest.ImageFolder(t, filepath.Join(split, "train"), 2, 2, 0)
	simtest.ImageFolder(t, filepath.Join(split, "val"), 2, 1, 77)
	if kv := folderScales(t, e, model, split); kv.Source != filepath.Base(split)+"-train" || kv.Images != 4 {
		t.Fatalf("split folder: calibrated on %s, want the 4 images of train/", kv.Description())
	}

	a := simtest.ImageFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 0)
	b := simtest.ImageFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 150)
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
