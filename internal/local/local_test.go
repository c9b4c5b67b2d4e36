package local

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/sim/safetensors"
	"github.com/clipformer/clipformer/sim/vit"
)

// writeFolder writes root/cK/NN.png: classes x perClass small pictures.
func writeFolder(t *testing.T, root string, classes, perClass int) {
	t.Helper()
	for c := 0; c < classes; c++ {
		for i := 0; i < perClass; i++ {
			img := image.NewNRGBA(image.Rect(0, 0, 32, 24))
			for p := 0; p < 32*24; p++ {
				img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2], img.Pix[4*p+3] = uint8(p), uint8(60*c+9*i), uint8(p/32*7), 255
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
}

// rgbModel writes a tiny 3 x 224 x 224 two-class ViT.
func rgbModel(t *testing.T) string {
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

// A sweep over an image folder runs through the coordinator and its workers
// and its results name the images the static K/V scales were calibrated on:
// a class-stratified sample of a folder without train/ (or train/ itself),
// in every trial's summary and in the CSV's calibration column. A point
// with the dynamic K/V scale names none.
func TestFolderSweepResultsNameTheCalibrationSet(t *testing.T) {
	model := rgbModel(t)
	flat := filepath.Join(t.TempDir(), "imgs")
	writeFolder(t, flat, 2, 3)
	split := filepath.Join(t.TempDir(), "split")
	writeFolder(t, filepath.Join(split, "train"), 2, 2)
	writeFolder(t, filepath.Join(split, "val"), 2, 1)
	for _, c := range []struct{ dir, want string }{
		{flat, "6 images of imgs-test, class-stratified (round robin over 2 classes)"},
		{split, "4 images of split-train"},
	} {
		spec, err := sweep.Parse("f.yaml", []byte("model: {path: "+model+"}\ndataset: {kind: folder, path: "+c.dir+", limit: 2}\n"+
			"grid: {gamma: [2], device: [{field: kv_scale, values: [static, dynamic]}]}\nimages_per_shard: 1\n"))
		if err != nil {
			t.Fatal(err)
		}
		sw, res, err := Run(context.Background(), spec, Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 {
			t.Fatalf("%d points, want 2", len(res))
		}
		for _, r := range res {
			want := c.want
			if r.Point.Device[0] == "dynamic" {
				want = ""
			}
			for tr, s := range r.Trials {
				if s.Images != 2 || s.Calibration != want {
					t.Errorf("%s, point %v, trial %d: %d images calibrated on %q, want 2 on %q", c.dir, r.Point.Device, tr, s.Images, s.Calibration, want)
				}
			}
		}
		var b bytes.Buffer
		if err := report.WriteCSV(&b, report.Rows(sw.Id, spec, res)); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(recs[0], "calibration")
		if col < 0 || len(recs) != 3 || recs[1][col] != c.want || recs[2][col] != "" {
			t.Errorf("%s: results.csv %v, want a calibration column naming %q for the static point", c.dir, recs, c.want)
		}
	}
}
