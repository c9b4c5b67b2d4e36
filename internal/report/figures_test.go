package report

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/figure"
	"github.com/clipformer/clipformer/internal/sweep"
)

// A figure's title names the spec's model and data set, the granularity
// (the profile's, or the rows' device axis when it is one) and the rows'
// sigma_r; without a spec it names what the rows say.
func TestFigureContextNamesModelGranularityAndSigmaR(t *testing.T) {
	spec, err := sweep.Parse("s.yaml", []byte("model: {path: models/vit-mnist.safetensors}\ndataset: {kind: mnist}\n"+
		"profile: {granularity: value}\ngrid: {gamma: [4], clip: [off]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows := []Row{{Clip: "off", Trials: 3, Images: 2000, SigmaR: 0.05}, {Clip: "off", Trials: 3, Images: 2000, SigmaR: 0}}
	c := FigureContext(spec, rows)
	want := figure.Context{Model: "vit-mnist", Dataset: "mnist", Granularity: []string{"value"}, SigmaR: []float64{0, 0.05}, Note: "2,000 images x 3 trials"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("context %+v, want %+v", c, want)
	}
	rows[0].Device, rows[1].Device = "granularity=slice", "granularity=value"
	if c := FigureContext(nil, rows); !reflect.DeepEqual(c.Granularity, []string{"slice", "value"}) || c.Model != "" {
		t.Fatalf("no spec, granularity axis: %+v", c)
	}
}

// A calibration (one gamma, sigma_w varying) is drawn against sigma_w, one
// line per granularity, instead of a column of points at one gamma.
func TestLineSeriesOfACalibrationRunAgainstSigmaW(t *testing.T) {
	var rows []Row
	for _, g := range []string{"slice", "value"} {
		for _, sw := range []float64{0.3, 0.2} {
			rows = append(rows, Row{Gamma: 4, Clip: "off", SigmaW: sw, Device: "granularity=" + g, Trials: 2, Accuracy: 80 - 100*sw, CI95: 1, SNR: 999})
		}
	}
	x, ss := LineSeries(rows, figure.MeanSNR)
	if x != figure.SigmaW || len(ss) != 2 {
		t.Fatalf("axis %v, %d series", x, len(ss))
	}
	want := figure.Series{Label: "ClipFormer off, granularity=slice", Points: []figure.Point{{X: 0.2, Y: 60}, {X: 0.3, Y: 60}}}
	if !reflect.DeepEqual(ss[0], want) {
		t.Fatalf("series %+v, want %+v (sorted by sigma_w, 999 dB drawn at 60, two off lines so neither is the reference)", ss[0], want)
	}
}

// The dashboard's block figure has a line per setting at the gamma, named
// as the accuracy figure names it, the one "off" line the reference; points
// at other gammas or without a complete trial are not drawn.
func TestSettingBlockSeriesHasALinePerSetting(t *testing.T) {
	rows := []Row{
		{Gamma: 4, Clip: "off", Trials: 2, BlockSNR: []float64{10, 999}},
		{Gamma: 4, Clip: "alpha=2 beta=0.5", ClipOn: true, Trials: 2, BlockSNR: []float64{20, 21}},
		{Gamma: 4, Clip: "alpha=4 beta=0.5", ClipOn: true, Trials: 0, BlockSNR: []float64{1, 1}},
		{Gamma: 2, Clip: "alpha=4 beta=0.5", ClipOn: true, Trials: 2, BlockSNR: []float64{30, 31}},
	}
	want := []figure.Series{
		{Label: "ClipFormer off", Reference: true, Points: []figure.Point{{X: 0, Y: 10}, {X: 1, Y: 60}}},
		{Label: "alpha=2 beta=0.5", Points: []figure.Point{{X: 0, Y: 20}, {X: 1, Y: 21}}},
	}
	if got := SettingBlockSeries(rows, 4); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// The gain map holds every (alpha, beta) at the gamma, NaN where a point
// has not run.
func TestGainGridMarksPointsNotRun(t *testing.T) {
	rows := []Row{{Gamma: 5, Clip: "off", Trials: 1, Accuracy: 50}}
	for _, a := range []float64{2, 1} {
		for _, b := range []float64{1, 0.25} {
			if a == 2 && b == 1 {
				continue
			}
			rows = append(rows, Row{Gamma: 5, Clip: "x", ClipOn: true, Alpha: a, Beta: b, Trials: 1, Accuracy: 50 + a + b})
		}
	}
	g, ok := GainGrid(rows, BestPerGamma(rows)[0])
	if !ok || !reflect.DeepEqual(g.Alphas, []float64{1, 2}) || !reflect.DeepEqual(g.Betas, []float64{0.25, 1}) || g.Off != 50 {
		t.Fatalf("grid %+v", g)
	}
	if g.Gain[0][0] != 1.25 || g.Gain[0][1] != 2 || g.Gain[1][0] != 2.25 || !math.IsNaN(g.Gain[1][1]) {
		t.Fatalf("gains %v, want [[1.25 2] [2.25 NaN]]", g.Gain)
	}
}

// `run`, `plot` and `report` draw the same figures: lines for a few
// settings, the study figures for a grid of many.
func TestPlotSweepDrawsStudyFiguresForManySettings(t *testing.T) {
	var rows []Row
	for _, g := range []float64{0, 5} {
		rows = append(rows, Row{Gamma: g, Clip: "off", Trials: 1, Accuracy: 90 - g, SNR: 10, BlockSNR: []float64{10}})
		for k := range 9 {
			b := 0.125 * float64(k+1)
			rows = append(rows, Row{Gamma: g, Clip: fmt.Sprintf("alpha=2 beta=%g", b), ClipOn: true, Alpha: 2, Beta: b,
				Trials: 1, Accuracy: 90 - g + b, SNR: 11, BlockSNR: []float64{11}})
		}
	}
	dir := t.TempDir()
	files, err := PlotSweep(rows, figure.Context{Model: "m"}, filepath.Join(dir, "p"), []string{"svg"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 || filepath.Base(files[0]) != "p-best.svg" || filepath.Base(files[4]) != "p-gain.svg" {
		t.Fatalf("10 settings: files %v, want the 5 study figures", files)
	}
	files, err = PlotSweep(rows[:3], figure.Context{Model: "m"}, filepath.Join(dir, "q"), []string{"svg"})
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "q-accuracy.svg" {
		t.Fatalf("3 settings: files %v, %v, want accuracy and snr", files, err)
	}
	b, _ := os.ReadFile(files[0])
	if n := strings.Count(string(b), `class="series"`); n != 3 {
		t.Fatalf("accuracy figure of 3 settings: %d series paths", n)
	}
}

// The dashboard's entry point: any figure by name, a study figure at a
// chosen gamma and group, with errors that say what is wrong.
func TestDrawFigureAtAChosenGamma(t *testing.T) {
	var rows []Row
	for _, sr := range []float64{0, 0.05} {
		for _, g := range []float64{3, 4, 5} {
			rows = append(rows, Row{Gamma: g, SigmaR: sr, Clip: "off", Trials: 1, Accuracy: 90 - g, CI95: 1, SNR: -g, BlockSNR: []float64{-g, 1 - g}})
			for _, a := range []float64{1, 2} {
				for _, b := range []float64{0.25, 1} {
					rows = append(rows, Row{Gamma: g, SigmaR: sr, Clip: fmt.Sprintf("alpha=%g beta=%g", a, b), ClipOn: true, Alpha: a, Beta: b,
						Trials: 1, Accuracy: 90 - g + a*b, CI95: 1, SNR: a - g, BlockSNR: []float64{a - g, a}})
				}
			}
		}
	}
	c := figure.Context{Model: "vit-mnist"}
	var b strings.Builder
	if err := DrawFigure(&b, figure.SVG, rows, c, FigureRequest{Name: "gain", Gamma: 4, HasGamma: true, Others: "sigma_r=0.05"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sigma_r 0.05", "gamma 4", `class="cell"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("gain map lacks %q", want)
		}
	}
	if strings.Contains(b.String(), "sigma_r 0,") {
		t.Error("gain map of the sigma_r=0.05 group names sigma_r 0 too")
	}
	for _, name := range append(append([]string{}, LineFigures...), StudyFigures...) {
		b.Reset()
		if err := DrawFigure(&b, figure.SVG, rows, c, FigureRequest{Name: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := DrawFigure(&b, figure.SVG, rows, c, FigureRequest{Name: "gain", Gamma: 7, HasGamma: true}); err == nil || !strings.Contains(err.Error(), "gamma 7") {
		t.Errorf("gamma not in the grid: %v, want an error naming it", err)
	}
	if err := DrawFigure(&b, figure.SVG, rows, c, FigureRequest{Name: "pie"}); err == nil || !strings.Contains(err.Error(), `"pie"`) {
		t.Errorf("unknown figure: %v", err)
	}
	if err := DrawFigure(&b, figure.SVG, rows[:1], c, FigureRequest{Name: "beta-accuracy"}); !errors.Is(err, figure.ErrNoData) {
		t.Errorf("no ClipFormer point done: %v, want ErrNoData", err)
	}
}
