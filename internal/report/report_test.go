package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/clipformer/clipformer/internal/figure"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim/cost"
	"github.com/clipformer/clipformer/sim/vit"
)

// calibSet is the calibration set every shard of results reports.
const calibSet = "4 images of imgs, class-stratified (round robin over 2 classes)"

func results(t *testing.T) (*cfpb.SweepSpec, []*cfpb.PointResult) {
	t.Helper()
	s, err := sweep.Parse("r.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 20}\ngrid: {gamma: [0, 4], clip: [off, {alpha: 2, beta: 0.25}]}\ntrials: 2\nimages_per_shard: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := sweep.NewLayout(s)
	state := func(k int) cfpb.ShardState {
		if l.Shard("", k).Point.Index == 3 && l.Shard("", k).Trial == 1 && l.Shard("", k).Start == 10 {
			return cfpb.ShardState_SHARD_STATE_PENDING // point 3, trial 1 incomplete
		}
		return cfpb.ShardState_SHARD_STATE_DONE
	}
	sum := func(k int) *cfpb.Summary {
		w := l.Shard("", k)
		return &cfpb.Summary{Images: int64(w.Count), Correct: int64(w.Count) - int64(w.Point.Index) - int64(w.Trial),
			Signal: []*cfpb.Sum128{{Hi: 100}}, Noise: []*cfpb.Sum128{{Hi: 1}}, Calibration: calibSet}
	}
	return s, sweep.Aggregate(l, state, sum)
}

func TestRowsCountOnlyCompleteTrials(t *testing.T) {
	s, res := results(t)
	rows := Rows("sw", s, res)
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[3]
	if r.Trials != 1 || r.Images != 20 || r.Accuracy != 100*(20-2*3)/20.0 || r.Shards != 3 || r.AllShards != 4 {
		t.Fatalf("row 3: %+v", r)
	}
	r0 := rows[0]
	if r0.Trials != 2 || r0.Accuracy != (100+90)/2.0 || r0.Clip != "off" || rows[1].Clip != "alpha=2 beta=0.25" {
		t.Fatalf("row 0: %+v", r0)
	}
	// 10 log10(signal/noise) = 10 log10(100) = 20 dB per block.
	if r0.SNR != 20 || len(r0.BlockSNR) != 1 {
		t.Fatalf("SNR %v %v", r0.SNR, r0.BlockSNR)
	}
}

func TestFormatsCarryTheSameRows(t *testing.T) {
	s, res := results(t)
	rows := Rows("sw", s, res)
	var c, j, p bytes.Buffer
	if err := WriteCSV(&c, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil || len(recs) != 5 || recs[2][3] != "alpha=2 beta=0.25" || recs[1][11] != "95" {
		t.Fatalf("csv %v %v", recs, err)
	}
	// Every format names the calibration set of each row.
	if col := slices.Index(recs[0], "calibration"); col < 0 || recs[1][col] != calibSet || recs[4][col] != calibSet {
		t.Fatalf("csv has no calibration column naming %q: %v", calibSet, recs)
	}
	if err := WriteJSONL(&j, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(j.String()), "\n")
	var back Row
	if len(lines) != 4 || json.Unmarshal([]byte(lines[3]), &back) != nil || back.Accuracy != rows[3].Accuracy ||
		!strings.Contains(lines[0], `"calibration":"`+calibSet+`"`) {
		t.Fatalf("jsonl %q", lines)
	}
	if err := WriteParquet(&p, rows); err != nil {
		t.Fatal(err)
	}
	got, err := parquet.Read[Row](bytes.NewReader(p.Bytes()), int64(p.Len()))
	if err != nil || len(got) != 4 || got[1].Alpha != 2 || got[0].PerTrial[1] != 90 || got[2].Calibration != calibSet {
		t.Fatalf("parquet %v %v", got, err)
	}
	if err := WriteFormat(&p, "xlsx", rows); err == nil {
		t.Fatal("unknown format accepted")
	}
	var tb bytes.Buffer
	WriteTable(&tb, rows)
	if !strings.Contains(tb.String(), "accuracy %") || !strings.Contains(tb.String(), "3/4") {
		t.Fatalf("table:\n%s", tb.String())
	}
}

func TestPlotWritesPNGAndSVG(t *testing.T) {
	s, res := results(t)
	prefix := filepath.Join(t.TempDir(), "p")
	files, err := Plot(Rows("sw", s, res), figure.Context{Model: "test"}, prefix, []string{"png", "svg"})
	if err != nil || len(files) != 4 {
		t.Fatalf("%v %v", files, err)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestAddHardwareFillsSlicesAndSavings(t *testing.T) {
	s, res := results(t)
	rows := Rows("sw", s, res)
	c := vit.Config{Arch: "t", ImgSize: 28, InChans: 1, Patch: 7, Dim: 128, Depth: 2, Heads: 2, MLPHidden: 256, Classes: 10}
	if err := AddHardware(rows, s, res, c, cost.Default()); err != nil {
		t.Fatal(err)
	}
	if rows[0].KVSlices != 4 || rows[0].AreaSavingPct != 0 || rows[1].KVSlices != 3 || !(rows[1].AreaSavingPct > 0) || !(rows[1].AttnEnergyUJ > 0) {
		t.Fatalf("rows %+v / %+v", rows[0], rows[1])
	}
	var tb bytes.Buffer
	WriteTable(&tb, rows)
	if !strings.Contains(tb.String(), "K/V slices") {
		t.Fatalf("table:\n%s", tb.String())
	}
}

func TestBestPerGammaPicksTheMostAccurateClipSetting(t *testing.T) {
	rows := []Row{
		{Gamma: 4, Clip: "off", Trials: 1, Accuracy: 60, SNR: -7},
		{Gamma: 4, Clip: "alpha=2 beta=0.25", ClipOn: true, Trials: 1, Accuracy: 63, SNR: -1},
		{Gamma: 4, Clip: "alpha=3 beta=1", ClipOn: true, Trials: 1, Accuracy: 65, SNR: -3},
		{Gamma: 0, Clip: "off", Trials: 1, Accuracy: 88, SNR: 44},
		{Gamma: 0, Clip: "alpha=2 beta=0.25", ClipOn: true, Trials: 1, Accuracy: 80, SNR: 6},
		{Gamma: 5, Clip: "alpha=2 beta=0.25", ClipOn: true, Trials: 0, Accuracy: 0},
	}
	best := BestPerGamma(rows)
	if len(best) != 2 || best[0].Gamma != 0 || best[1].Gamma != 4 {
		t.Fatalf("best %+v", best)
	}
	if b := best[1]; b.Clip.Clip != "alpha=3 beta=1" || b.GainPoints != 5 || b.GainDB != 4 {
		t.Fatalf("gamma 4: %+v", b)
	}
	if b := best[0]; b.GainPoints != -8 {
		t.Fatalf("gamma 0: %+v", b)
	}
	var out bytes.Buffer
	WriteBest(&out, best)
	if !strings.Contains(out.String(), "alpha=3 beta=1") || !strings.Contains(out.String(), "+5.00") {
		t.Fatalf("table:\n%s", out.String())
	}
}

// The held-out gain chooses the setting on the other trials: a setting that
// wins on one lucky trial is not credited with that trial.
func TestBestPerGammaHeldOutGain(t *testing.T) {
	rows := []Row{
		{Gamma: 5, Clip: "off", Trials: 3, Accuracy: 50, PerTrial: []float64{50, 50, 50}, Shards: 3, AllShards: 3},
		// steady: +5 on every trial
		{Gamma: 5, Clip: "alpha=4 beta=0.25", ClipOn: true, Alpha: 4, Beta: 0.25, Trials: 3, Accuracy: 55, PerTrial: []float64{55, 55, 55}, Shards: 3, AllShards: 3},
		// lucky: best mean (56) from one trial of 68
		{Gamma: 5, Clip: "alpha=1 beta=1", ClipOn: true, Alpha: 1, Beta: 1, Trials: 3, Accuracy: 56, PerTrial: []float64{68, 50, 50}, Shards: 3, AllShards: 3},
	}
	b := BestPerGamma(rows)
	if len(b) != 1 || b[0].Clip.Clip != "alpha=1 beta=1" || b[0].GainPoints != 6 {
		t.Fatalf("best %+v", b)
	}
	// Leave out trial 0: steady (55 > 50) is chosen, +5. Trials 1, 2: lucky
	// (mean 59 > 55) is chosen and scores 50 there, +0. Mean 5/3.
	if !b[0].HasHeldOut || math.Abs(b[0].HeldOutGain-5.0/3) > 1e-12 {
		t.Fatalf("held-out gain %v (%v), want 5/3", b[0].HeldOutGain, b[0].HasHeldOut)
	}
	// A point with a shard not done lists its complete trials by position,
	// which need not be trial numbers: no held-out gain.
	rows[1].Shards, rows[1].Trials, rows[1].PerTrial = 2, 2, []float64{55, 55}
	rows[2].Shards, rows[2].Trials, rows[2].PerTrial = 2, 2, []float64{68, 50}
	rows[0].Shards, rows[0].Trials, rows[0].PerTrial = 2, 2, []float64{50, 50}
	if b := BestPerGamma(rows); b[0].HasHeldOut {
		t.Fatal("incomplete points: no held-out gain")
	}
	rows[0].Shards, rows[0].AllShards, rows[0].Trials, rows[0].PerTrial = 1, 1, 1, []float64{50}
	if b := BestPerGamma(rows); b[0].HasHeldOut {
		t.Fatal("one trial of off: no held-out gain")
	}
}

// A results CSV reads back into the rows that wrote it.
func TestCSVRoundTrip(t *testing.T) {
	rows := []Row{
		{Sweep: "s", Point: 0, Gamma: 4, Clip: "off", SigmaW: 0.483, Trials: 3, Images: 100, Accuracy: 61.5, Std: 0.5, CI95: 1.2,
			PerTrial: []float64{61, 61.5, 62}, SNR: -3.25, BlockSNR: []float64{-3, -3.5}, Shards: 3, AllShards: 3, KVSlices: 4,
			Calibration: "256 images of imagenet-train"},
		{Sweep: "s", Point: 1, Gamma: 4, Clip: "alpha=2 beta=0.25", ClipOn: true, Alpha: 2, Beta: 0.25, SigmaR: 0.05,
			Pruning: "keep 0.7 after blocks 1,3, fused", Trials: 3, Images: 100, Accuracy: 66, KVSlices: 3, AreaSavingPct: 2.8},
	}
	var b strings.Builder
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(strings.NewReader(b.String()), "r.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("read back\n%+v\nwrote\n%+v", got, rows)
	}
	for _, bad := range []string{"", "a,b\n1,2\n", "gamma,clip,accuracy\n4,off,x\n", "gamma,clip,accuracy\n4,off\n"} {
		if _, err := ReadCSV(strings.NewReader(bad), "bad.csv"); err == nil || !strings.Contains(err.Error(), "bad.csv") {
			t.Errorf("%q: got %v, want an error naming the file", bad, err)
		}
	}
}

// A study grid gets the best-per-gamma, beta and per-block figures, one set
// per value of an axis other than gamma and the clip.
func TestPlotStudyWritesFiguresPerOtherAxis(t *testing.T) {
	var rows []Row
	for _, sr := range []float64{0, 0.05} {
		for _, g := range []float64{0, 4} {
			rows = append(rows, Row{Gamma: g, SigmaR: sr, Clip: "off", Trials: 1, Accuracy: 80 - 5*g, CI95: 1, SNR: 10 - g, BlockSNR: []float64{9 - g, 11 - g}})
			for _, a := range []float64{2, 4} {
				for _, b := range []float64{1, 0.25} {
					rows = append(rows, Row{Gamma: g, SigmaR: sr, Clip: fmt.Sprintf("alpha=%g beta=%g", a, b), ClipOn: true, Alpha: a, Beta: b,
						Trials: 1, Accuracy: 80 - 4*g + a*(1-b), CI95: 1, SNR: 11 - g*b, BlockSNR: []float64{10 - g*b, 12 - g*b}})
				}
			}
		}
	}
	prefix := filepath.Join(t.TempDir(), "study-x")
	files, err := PlotStudy(rows, figure.Context{}, prefix, []string{"png"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, filepath.Base(f))
	}
	want := []string{
		"study-x-sigma_r0-best.png", "study-x-sigma_r0-beta-accuracy.png", "study-x-sigma_r0-beta-snr.png", "study-x-sigma_r0-blocksnr.png", "study-x-sigma_r0-gain.png",
		"study-x-sigma_r0.05-best.png", "study-x-sigma_r0.05-beta-accuracy.png", "study-x-sigma_r0.05-beta-snr.png", "study-x-sigma_r0.05-blocksnr.png", "study-x-sigma_r0.05-gain.png",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	if _, err := PlotStudy(rows[:0], figure.Context{}, prefix, []string{"png"}); err == nil {
		t.Fatal("no rows: want an error")
	}

	// One group (no suffix), and the largest gamma has only its untransformed
	// point done (a run still going): the beta and block figures fall back to
	// the largest gamma with a transformed point.
	var one []Row
	for _, r := range rows {
		if r.SigmaR == 0 && (r.Gamma == 0 || !r.ClipOn) {
			one = append(one, r)
		}
	}
	files, err = PlotStudy(one, figure.Context{}, filepath.Join(t.TempDir(), "study-y"), []string{"png"})
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"study-y-best.png", "study-y-beta-accuracy.png", "study-y-beta-snr.png", "study-y-blocksnr.png", "study-y-gain.png"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
}

// The study table shows <SNR> and the per-block SNR of the untransformed
// and the best setting, then every setting's gain as an alpha x beta grid.
func TestMarkdownStudyShowsBlockSNR(t *testing.T) {
	rows := []Row{
		{Gamma: 4, Clip: "off", Trials: 3, Images: 100, Accuracy: 60, CI95: 1, SNR: -7.25, BlockSNR: []float64{-8, -6.5}},
		{Gamma: 4, Clip: "alpha=4 beta=0.25", ClipOn: true, Alpha: 4, Beta: 0.25, Trials: 3, Images: 100, Accuracy: 66, CI95: 1, SNR: -1.04, BlockSNR: []float64{-1, -1.08}},
		{Gamma: 4, Clip: "alpha=2 beta=1", ClipOn: true, Alpha: 2, Beta: 1, Trials: 3, Images: 100, Accuracy: 59.96},
		{Gamma: 4, Clip: "alpha=2 beta=0.25", ClipOn: true, Alpha: 2, Beta: 0.25, Trials: 3, Images: 100, Accuracy: 59.5},
		{Gamma: 4, Clip: "alpha=3 beta=1", ClipOn: true, Alpha: 3, Beta: 1, Trials: 0, Images: 100}, // no complete trial: not shown
		{Gamma: 0, Clip: "off", Trials: 3, Images: 100, Accuracy: 88, SNR: 999, BlockSNR: []float64{999, 999}},
		{Gamma: 0, Clip: "alpha=4 beta=0.25", ClipOn: true, Alpha: 4, Beta: 0.25, Trials: 3, Images: 100, Accuracy: 80, SNR: 6, BlockSNR: []float64{6, 6}},
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, map[string][]Row{"study-x": rows}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 4 | - | 100 x 3 | 60.00 ± 1.00 | (4, 0.25) | 66.00 ± 1.00 | +6.00 | - | -7.2 → -1.0 | -8.0 -6.5 → -1.0 -1.1 |",
		"| 0 | - | 100 x 3 | 88.00 ± 0.00 | (4, 0.25) | 80.00 ± 0.00 | -8.00 | - | inf → 6.0 | inf inf → 6.0 6.0 |",
		"| 4 | - | 68 % | 75 % | 69 % | 86 % |\n",
		"Gain over ClipFormer off (60.00 %), points, gamma 4:\n\n| alpha \\ beta | 1 | 0.25 |\n| ---: | ---: | ---: |\n| 2 | 0.0 | -0.5 |\n| 4 | - | **+6.0** |\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}
