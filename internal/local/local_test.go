package local

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"slices"
	"testing"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/internal/sweep"
)

// A sweep over an image folder runs through the coordinator and its workers
// and its results name the images the static K/V scales were calibrated on:
// a class-stratified sample of a folder without train/ (or train/ itself),
// in every trial's summary and in the CSV's calibration column. A point
// with the dynamic K/V scale names none.
func TestFolderSweepResultsNameTheCalibrationSet(t *testing.T) {
	model := simtest.RGBModel(t, 2, 3)
	flat := filepath.Join(t.TempDir(), "imgs")
	simtest.ImageFolder(t, flat, 2, 3, 0)
	split := filepath.Join(t.TempDir(), "split")
	simtest.ImageFolder(t, filepath.Join(split, "train"), 2, 2, 0)
	simtest.ImageFolder(t, filepath.Join(split, "val"), 2, 1, 0)
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
