package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

// memData is an in-memory dataset of random images.
type memData struct {
	c, h, w int
	images  [][]float32
	labels  []int
}

func (d *memData) Name() string           { return "mem" }
func (d *memData) Len() int               { return len(d.images) }
func (d *memData) Shape() (int, int, int) { return d.c, d.h, d.w }
func (d *memData) NumClasses() int        { return 5 }
func (d *memData) Image(i int, dst []float32) (int, error) {
	copy(dst, d.images[i])
	return d.labels[i], nil
}

func tinySetup(t testing.TB, n int) (*vit.Model, *memData) {
	t.Helper()
	cfg := vit.Config{Arch: "tiny", ImgSize: 8, InChans: 1, Patch: 2, Dim: 64, Depth: 3, Heads: 2, MLPHidden: 128, Classes: 5,
		Mean: []float32{0.5}, Std: []float32{0.25}}
	m, err := vit.Synth(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 3))
	d := &memData{c: 1, h: 8, w: 8}
	for i := 0; i < n; i++ {
		img := make([]float32, 64)
		for j := range img {
			img[j] = r.Float32()
		}
		d.images = append(d.images, img)
		d.labels = append(d.labels, r.IntN(5))
	}
	return m, d
}

// smallModel is tinySetup's model at half the width and two blocks, for the
// reference path, which is slow under -race; its four linears per block
// still share their arrays between workers.
func smallModel(t testing.TB) *vit.Model {
	t.Helper()
	m, err := vit.Synth(vit.Config{Arch: "tiny", ImgSize: 8, InChans: 1, Patch: 2, Dim: 32, Depth: 2, Heads: 2, MLPHidden: 64, Classes: 5,
		Mean: []float32{0.5}, Std: []float32{0.25}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func noisySetting(p crossbar.Profile) Setting {
	return Setting{Profile: p, Gamma: 4, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.5}, Seed: 11, Trial: 2}
}

// Evaluating images 0..N in one call, or split into arbitrary shards with
// other worker counts and batch sizes, gives bit-identical per-image results
// and bit-identical merged SNR sums.
func TestShardingDoesNotChangeAnyBit(t *testing.T) {
	m, d := tinySetup(t, 23)
	ctx := context.Background()
	for _, sigmaR := range []float64{0, 0.05} {
		p := crossbar.Default()
		p.SigmaR = sigmaR
		kv, err := CalibrateKV(ctx, m, d, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		s := noisySetting(p)
		whole := evaluateWholeAndSharded(t, m, d, s, kv)
		// And the same point run twice is bit-identical; another trial is not.
		again, _ := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Workers: 2, Batch: 5, Predictions: true})
		if again.Noise[0] != whole.Noise[0] {
			t.Fatalf("sigma_r=%v: the same point run twice gives different noise sums", sigmaR)
		}
		s.Trial++
		other, _ := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Workers: 2, Batch: 5})
		if other.Noise[0] == whole.Noise[0] {
			t.Fatalf("sigma_r=%v: another trial gives the same noise sums", sigmaR)
		}
	}
}

// evaluateWholeAndSharded evaluates d's 23 images in one call (one worker,
// one batch) and in uneven shards on other worker counts and batch sizes,
// fails the test unless both give the same bits, and returns the one call's
// result.
func evaluateWholeAndSharded(t *testing.T, m *vit.Model, d *memData, s Setting, kv *KVScales) *Result {
	t.Helper()
	return evaluateWholeAndShardedOn(t, m, d, s, kv, nil)
}

// evaluateWholeAndShardedOn is evaluateWholeAndSharded through the mapping
// mp (nil: the one Evaluate makes).
func evaluateWholeAndShardedOn(t *testing.T, m *vit.Model, d *memData, s Setting, kv *KVScales, mp *Mapped) *Result {
	t.Helper()
	ctx := context.Background()
	whole, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Workers: 1, Batch: 23, Predictions: true, Mapped: mp})
	if err != nil {
		t.Fatal(err)
	}
	merged := &Result{}
	for _, sh := range []struct{ start, count, workers, batch int }{{0, 5, 2, 3}, {5, 1, 1, 1}, {6, 10, 2, 4}, {16, 7, 3, 2}} {
		r, err := Evaluate(ctx, Request{Model: m, Data: d, Start: sh.start, Count: sh.count, Setting: s, KV: kv, Workers: sh.workers, Batch: sh.batch, Predictions: true, Mapped: mp})
		if err != nil {
			t.Fatal(err)
		}
		merged.Merge(r)
	}
	if diff := resultsDiffer(whole, merged); diff != "" {
		t.Fatalf("sigma_r=%v: one call and shards differ: %s", s.Profile.SigmaR, diff)
	}
	return whole
}

// resultsDiffer describes the first difference between two results' counts,
// logit bits and SNR sums, or returns "".
func resultsDiffer(a, b *Result) string {
	if a.Images != b.Images || a.Correct != b.Correct {
		return fmt.Sprintf("%d/%d correct against %d/%d", a.Correct, a.Images, b.Correct, b.Images)
	}
	if len(a.Predictions) != len(b.Predictions) {
		return fmt.Sprintf("%d predictions against %d", len(a.Predictions), len(b.Predictions))
	}
	for i := range a.Predictions {
		x, y := a.Predictions[i].Logits, b.Predictions[i].Logits
		for j := range x {
			if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
				return fmt.Sprintf("image %d logit %d: %v against %v", i, j, x[j], y[j])
			}
		}
	}
	if len(a.Signal) != len(b.Signal) {
		return fmt.Sprintf("%d SNR blocks against %d", len(a.Signal), len(b.Signal))
	}
	for k := range a.Signal {
		if a.Signal[k] != b.Signal[k] || a.Noise[k] != b.Noise[k] {
			return fmt.Sprintf("block %d: SNR sums differ", k)
		}
	}
	return ""
}

// More write noise means a noisier attention core: the SNR falls as gamma
// grows, and without any noise the crossbar only quantises.
func TestSNRFallsWithGamma(t *testing.T) {
	m, d := tinySetup(t, 16)
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 16, 2)
	if err != nil {
		t.Fatal(err)
	}
	prev := math.Inf(1)
	for _, g := range []float64{0, 1, 3, 5} {
		s := Setting{Profile: crossbar.Default(), Gamma: g, Seed: 1}
		r, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv})
		if err != nil {
			t.Fatal(err)
		}
		snr := r.MeanSNR()
		if !(snr < prev) {
			t.Fatalf("gamma %v: <SNR> %v dB is not below %v dB at the previous gamma", g, snr, prev)
		}
		if g == 0 && snr < 25 {
			t.Fatalf("gamma 0: <SNR> %v dB; 8-bit quantisation alone should stay above 25 dB", snr)
		}
		prev = snr
	}
}

func TestIdealSettingMatchesFloatForward(t *testing.T) {
	m, d := tinySetup(t, 6)
	r, err := Evaluate(context.Background(), Request{Model: m, Data: d, Setting: Setting{Ideal: true}, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, 64)
	logits := make([]float32, 5)
	for i := range d.images {
		copy(img, d.images[i])
		m.Normalize(img)
		m.Forward(&vit.Ideal{}, &vit.Workspace{}, img, []int{i}, logits)
		for j := range logits {
			if logits[j] != r.Predictions[i].Logits[j] {
				t.Fatalf("image %d logit %d: Evaluate %v, Forward %v", i, j, r.Predictions[i].Logits[j], logits[j])
			}
		}
	}
}

func TestStaticScaleWithoutCalibrationIsAnError(t *testing.T) {
	m, d := tinySetup(t, 2)
	_, err := Evaluate(context.Background(), Request{Model: m, Data: d, Setting: Setting{Profile: crossbar.Default()}})
	if err == nil {
		t.Fatal("evaluating with kv_scale static and no calibration succeeded")
	}
}

func TestReferencePathRunsTheModel(t *testing.T) {
	m, d := tinySetup(t, 4)
	ctx := context.Background()
	kv, _ := CalibrateKV(ctx, m, d, 4, 1)
	p := crossbar.Default()
	fast, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: Setting{Profile: p, Path: Fast}, KV: kv, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: Setting{Profile: p, Path: Reference}, KV: kv, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	// Without noise both paths compute the same integer products; float
	// summation order differs only in the last bits.
	for i := range fast.Predictions {
		for j, v := range fast.Predictions[i].Logits {
			if w := ref.Predictions[i].Logits[j]; math.Abs(float64(v-w)) > 1e-3*(1+math.Abs(float64(v))) {
				t.Fatalf("image %d logit %d: fast %v reference %v", i, j, v, w)
			}
		}
	}
	p.ADCBits = 6
	s := Setting{Profile: p}
	path, note, err := s.Resolve()
	if err != nil || path != Reference || note == "" {
		t.Fatalf("an ADC profile resolves to %q (%q, %v), want the reference path with a note", path, note, err)
	}
	s.Path = Fast
	if _, _, err := s.Resolve(); err == nil {
		t.Fatal("the fast path accepted an ADC")
	}
}

func TestHardwareCountsBeta025SavesASlice(t *testing.T) {
	c := vit.Presets["deit-small"]
	p := crossbar.Default()
	base := HardwareCounts(c, p, crossbar.ClipFormer{})
	clip := HardwareCounts(c, p, crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25})
	if base.KVSlices != 4 || clip.KVSlices != 3 {
		t.Fatalf("K/V slices: baseline %d, beta=0.25 %d; want 4 and 3", base.KVSlices, clip.KVSlices)
	}
	// K^T per head is 64 x 197: 1 row tile x ceil(197*4*2/64) = 25 column tiles; 72 heads.
	var kt, v MatrixCount
	for _, m := range base.Matrices {
		switch m.Name {
		case "K^T (per head)":
			kt = m
		case "V (per head)":
			v = m
		}
	}
	if kt.RowTiles != 1 || kt.ColTiles != 25 || kt.Instances != 72 {
		t.Fatalf("K^T tiling: %+v", kt)
	}
	// Conversions per image: input bits x passes x row tiles x columns x
	// slices per input vector, 197 vectors, 72 heads. Q has both signs (two
	// passes); A is non-negative (one); V (197 x 64) has ceil(197/64) = 4 row tiles.
	if want := int64(8 * 2 * 1 * 197 * 4 * 197 * 72); kt.Conversions != want {
		t.Fatalf("K^T conversions per image: got %d, want %d", kt.Conversions, want)
	}
	if want := int64(8 * 1 * 4 * 64 * 4 * 197 * 72); v.Conversions != want {
		t.Fatalf("V conversions per image: got %d, want %d", v.Conversions, want)
	}
	if want := int64(64 * 197 * 3 * 2 * 2 * 72); clip.CellsWritten != want {
		t.Fatalf("cells written at beta=0.25: got %d, want %d", clip.CellsWritten, want)
	}
	if !(clip.Conversions < base.Conversions) || clip.CellsWritten*4 != base.CellsWritten*3 {
		t.Fatalf("beta=0.25 should save a quarter of K/V cells and some conversions: %v vs %v", clip, base)
	}
}

// With nothing on crossbars the simulator is the float model, bit for bit.
func TestNothingOnCrossbarsIsTheFloatModel(t *testing.T) {
	m, d := tinySetup(t, 6)
	ctx := context.Background()
	ideal, _ := Evaluate(ctx, Request{Model: m, Data: d, Setting: Setting{Ideal: true}, Predictions: true})
	p := crossbar.Default()
	p.OnCrossbar = nil
	p.SigmaR = 0.1
	r, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: Setting{Profile: p, Gamma: 5}, KV: &KVScales{Blocks: 3, Heads: 2, K: make([]float32, 6), V: make([]float32, 6)}, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ideal.Predictions {
		for j, v := range ideal.Predictions[i].Logits {
			if r.Predictions[i].Logits[j] != v {
				t.Fatalf("image %d logit %d: %v, float model %v", i, j, r.Predictions[i].Logits[j], v)
			}
		}
	}
	if !math.IsInf(r.MeanSNR(), 1) {
		t.Fatalf("<SNR> %v with no crossbar, want +Inf", r.MeanSNR())
	}
}

// Programming noise is drawn once per trial: the same trial maps the weights
// identically, another trial differently; with gamma_p = 0 all trials share
// one noise-free mapping.
func TestProgrammingNoiseIsPerTrial(t *testing.T) {
	m, _ := tinySetup(t, 1)
	p := crossbar.Default()
	p.ProgrammingGamma = 2
	id := vit.LinearID{Block: 1, Kind: vit.FC1}
	mapAt := func(p crossbar.Profile, trial int) []float32 {
		s := Setting{Profile: p, Trial: trial, Seed: 3}
		mp, err := MapWeights(m, &s, Fast)
		if err != nil {
			t.Fatal(err)
		}
		return mp.linear[id].effective()
	}
	a, b, c := mapAt(p, 0), mapAt(p, 0), mapAt(p, 1)
	same, diff := true, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
	}
	if !same || !diff {
		t.Fatalf("programming noise: same trial identical %v, other trial differs %v; want true, true", same, diff)
	}
	p.ProgrammingGamma = 0
	x, y := mapAt(p, 0), mapAt(p, 7)
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("without programming noise, trials 0 and 7 map weight %d differently", i)
		}
	}
}

// The patch embedding and the heads can be put on crossbars too; the
// hardware counts then include them.
func TestPatchEmbedAndHeadOnCrossbars(t *testing.T) {
	m, d := tinySetup(t, 4)
	ctx := context.Background()
	kv, _ := CalibrateKV(ctx, m, d, 4, 1)
	p := crossbar.Default()
	p.OnCrossbar = append(p.OnCrossbar, crossbar.PlacePatchEmbed, crossbar.PlaceHead)
	s := Setting{Profile: p, Gamma: 1}
	mp, err := MapWeights(m, &s, Fast)
	if err != nil {
		t.Fatal(err)
	}
	if mp.linear[vit.LinearID{Block: -1, Kind: vit.PatchEmbed}] == nil || mp.linear[vit.LinearID{Block: -1, Kind: vit.Head}] == nil {
		t.Fatal("patch embedding or head not mapped")
	}
	if _, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv}); err != nil {
		t.Fatal(err)
	}
	h := HardwareCounts(m.Config, p, crossbar.ClipFormer{})
	names := map[string]bool{}
	for _, mc := range h.Matrices {
		names[mc.Name] = true
	}
	if !names["patch_embed.proj"] || !names["head"] {
		t.Fatalf("hardware counts lack the patch embedding or head: %v", names)
	}
}

func TestMappedServesOnlyItsSetting(t *testing.T) {
	m, _ := tinySetup(t, 1)
	s := Setting{Profile: crossbar.Default(), Trial: 0}
	mp, err := MapWeights(m, &s, Fast)
	if err != nil {
		t.Fatal(err)
	}
	other := s
	other.Trial = 5
	if !mp.Serves(m, &other, Fast) {
		t.Error("without programming noise a mapping should serve every trial")
	}
	if mp.Serves(m, &s, Reference) {
		t.Error("a fast-path mapping serves the reference path")
	}
	other.Profile.SigmaR = 0.1
	if mp.Serves(m, &other, Fast) {
		t.Error("a mapping without read-noise variances serves a read-noise profile")
	}
	prog := s
	prog.Profile.ProgrammingGamma = 1
	mp2, _ := MapWeights(m, &prog, Fast)
	prog.Trial = 1
	if mp2.Serves(m, &prog, Fast) {
		t.Error("a programming-noise mapping serves another trial")
	}
}

func TestReleaseWeightsKeepsResults(t *testing.T) {
	m, d := tinySetup(t, 5)
	ctx := context.Background()
	kv, _ := CalibrateKV(ctx, m, d, 5, 1)
	p := crossbar.Default()
	p.SigmaR = 0.02
	s := Setting{Profile: p, Gamma: 3, Seed: 2}
	mp, _ := MapWeights(m, &s, Fast)
	before, _ := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Mapped: mp, Predictions: true})
	mp.ReleaseWeights()
	if m.Blocks[0].QKV.WT != nil || m.PatchEmbed.WT == nil {
		t.Fatal("ReleaseWeights should drop the mapped linears' weights and keep the digital ones")
	}
	after, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Mapped: mp, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range before.Predictions {
		for j, v := range before.Predictions[i].Logits {
			if after.Predictions[i].Logits[j] != v {
				t.Fatalf("image %d logit %d changed after releasing the weights", i, j)
			}
		}
	}
}

// An ADC profile runs on the reference path, whose static arrays every
// worker shares: the logits and SNR sums must not depend on how many workers
// read them at once.
func TestReferencePathGivesTheSameBitsOnAnyWorkerCount(t *testing.T) {
	_, d := tinySetup(t, 4)
	m := smallModel(t)
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := crossbar.Default()
	p.ADCBits = 6
	p.SigmaR = 0.05 // read noise fills the per-call read buffers too
	s := noisySetting(p)
	var first *Result
	for _, workers := range []int{1, 2, 4} {
		r, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Workers: workers, Batch: 1, Predictions: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.Path != Reference {
			t.Fatalf("an ADC profile ran on the %s path", r.Path)
		}
		if first == nil {
			first = r
			continue
		}
		for i, pr := range r.Predictions {
			for j, v := range pr.Logits {
				if w := first.Predictions[i].Logits[j]; math.Float32bits(v) != math.Float32bits(w) {
					t.Fatalf("%d workers, image %d logit %d: %v, one worker %v", workers, i, j, v, w)
				}
			}
		}
		for b := range r.Signal {
			if r.Signal[b] != first.Signal[b] || r.Noise[b] != first.Noise[b] {
				t.Fatalf("%d workers, block %d: SNR sums differ from one worker's", workers, b)
			}
		}
	}
}

// Summarize: Student's t interval over trials, the binomial normal
// approximation over images for one trial. The t quantiles are R's
// qt(0.975, df).
func TestSummarizeGivesStudentTAndBinomialIntervals(t *testing.T) {
	iv := Summarize([]float64{80, 82, 84}, 100)
	// mean 82, std 2, half-width t(2) 2/sqrt(3); t(2) is tabulated to 3 decimals.
	if iv.Mean != 82 || math.Abs(iv.Std-2) > 1e-12 || math.Abs(iv.Half-4.303*2/math.Sqrt(3)) > 1e-9 {
		t.Fatalf("three trials: %+v", iv)
	}
	one := Summarize([]float64{50}, 100)
	if want := 100 * 1.959964 * math.Sqrt(0.25/100); math.Abs(one.Half-want) > 1e-9 || one.Std != 0 {
		t.Fatalf("one trial: %+v, want half-width %v", one, want)
	}
	for _, tc := range []struct {
		df   int
		want float64
	}{{30, 2.042272}, {31, 2.039513}, {35, 2.030108}, {40, 2.021075}, {60, 2.000298}, {120, 1.979930}, {1000, 1.962339}} {
		// 1e-5: the expansion's error above 30; the table rounds to 1e-3.
		tol := 1e-5
		if tc.df <= 30 {
			tol = 5e-4
		}
		if got := tQuantile975(tc.df); math.Abs(got-tc.want) > tol {
			t.Errorf("t quantile, %d degrees of freedom: %v, want %v", tc.df, got, tc.want)
		}
	}
}
