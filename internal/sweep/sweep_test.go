package sweep

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipformer/clipformer/proto/cfpb"
)

const paperSpec = `
name: paper grid
model: {path: models/vit-fashion-mnist.safetensors}
dataset: {kind: fashion-mnist, limit: 1000}
grid:
  gamma: [0, 1, 2, 3, 4, 5]
  clip_product:
    include_off: true
    alpha: [1, 1.5, 2, 3, 4]
    beta: [1, 0.75, 0.5, 0.375, 0.25, 0.125]
trials: 3
images_per_shard: 250
`

func TestParsePaperGridExpandsEveryPoint(t *testing.T) {
	s, err := Parse("paper.yaml", []byte(paperSpec))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(l.Points), 6*(1+5*6); got != want {
		t.Fatalf("points %d, want %d", got, want)
	}
	if got, want := l.Shards(), 186*3*4; got != want {
		t.Fatalf("shards %d, want %d", got, want)
	}
	if s.Dataset.Split != "test" || s.Seed != DefaultSeed {
		t.Fatalf("defaults not applied: split %q seed %d", s.Dataset.Split, s.Seed)
	}
	// Clip fastest, gamma next.
	p := l.Points[1]
	if p.Gamma != 0 || p.Clip.Off || p.Clip.Alpha != 1 || p.Clip.Beta != 1 {
		t.Fatalf("point 1 = %v", p)
	}
	if l.Points[31].Gamma != 1 || !l.Points[31].Clip.Off {
		t.Fatalf("point 31 = %v", l.Points[31])
	}
}

func TestLayoutCoversEveryPointTrialAndImageOnce(t *testing.T) {
	s, err := Parse("s.yaml", []byte(`
model: {path: m.safetensors}
dataset: {kind: mnist, limit: 1003}
grid: {gamma: [0, 2, 4], clip: [off, {alpha: 2, beta: 0.25}], sigma_r: [0, 0.05]}
trials: 2
images_per_shard: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(s)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[[3]int]int{} // point, trial, image -> times
	for k := 0; k < l.Shards(); k++ {
		w := l.Shard("x", k)
		if w.Shard != int32(k) || w.SweepId != "x" {
			t.Fatalf("shard %d says %d of %q", k, w.Shard, w.SweepId)
		}
		for i := w.Start; i < w.Start+w.Count; i++ {
			covered[[3]int{int(w.Point.Index), int(w.Trial), int(i)}]++
		}
	}
	if want := 12 * 2 * 1003; len(covered) != want {
		t.Fatalf("covered %d (point, trial, image) triples, want %d", len(covered), want)
	}
	for k, n := range covered {
		if n != 1 {
			t.Fatalf("%v covered %d times", k, n)
		}
	}
	// The first len(points) shards touch every point once.
	seen := map[int32]bool{}
	for k := 0; k < len(l.Points); k++ {
		seen[l.Shard("", k).Point.Index] = true
	}
	if len(seen) != len(l.Points) {
		t.Fatalf("first %d shards cover %d points", len(l.Points), len(seen))
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct{ spec, want string }{
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1], clip: [off, {alpha: 2, beta: 0.5}, {alpha: 2, beta: 1.5}]}`, "grid.clip[2].beta: 1.5 is outside [0.01, 1]"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1], clip: [{alpha: 0.5, beta: 0.5}]}`, "grid.clip[0].alpha: 0.5 must be finite and >= 1"},
		{`dataset: {kind: mnist}
grid: {gamma: [1]}`, "model.path: required"},
		{`model: {path: m}
dataset: {kind: cifar}
grid: {gamma: [1]}`, `dataset.kind: "cifar"`},
		{`model: {path: m}
dataset: {kind: folder, path: imgs}
grid: {gamma: [1]}`, "dataset.limit: required for kind folder"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: []}`, "grid.gamma: needs at least one value"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1, 1]}`, "grid.gamma[1]: 1 repeats grid.gamma[0]"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1], device: [{field: adc_bitz, values: [4]}]}`, `grid.device[0].field: "adc_bitz" is not a device-profile field`},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1], device: [{field: granularity, values: [slice, cell]}]}`, "grid.device[0].values[1]"},
		{`model: {path: m, sha256: xyz}
dataset: {kind: mnist}
grid: {gamma: [1]}`, "model.sha256"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1]}
trials: 0`, "trials: 0 must be >= 1"},
		{`model: {path: m}
dataset: {kind: mnist}
profile: {gmax_us: -1}
grid: {gamma: [1]}`, "profile: gmax_us"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1]}
colour: blue`, "colour (line 4): unknown field; the fields allowed at the top level are name, model, dataset, profile, grid,"},
		{`model: {path: m}
dataset: {kind: mnist}
grid: {gamma: [1], clip: [{alpha: 2}]}`, "needs both alpha and beta"},
	}
	for _, c := range cases {
		_, err := Parse("bad.yaml", []byte(c.spec))
		if err == nil {
			t.Errorf("spec accepted, want error containing %q:\n%s", c.want, c.spec)
			continue
		}
		if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("error %q, want ErrSpec naming bad.yaml and containing %q", err, c.want)
		}
	}
}

func TestValidateRefusesGridsOverTheLimitWithTheCount(t *testing.T) {
	s, err := Parse("s.yaml", []byte(paperSpec))
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(s, Limits{MaxShards: 1000})
	if err == nil || !strings.Contains(err.Error(), "= 2,232 shards, over the limit of 1,000") {
		t.Fatalf("err = %v", err)
	}
	if err := Validate(s, Limits{RequireSHA256: true}); err == nil || !strings.Contains(err.Error(), "model.sha256: required") {
		t.Fatalf("err = %v", err)
	}
}

func TestAggregateMergesShardsIntoPointsAndTrials(t *testing.T) {
	s, err := Parse("s.yaml", []byte(`
model: {path: m}
dataset: {kind: mnist, limit: 30}
grid: {gamma: [0, 1]}
trials: 2
images_per_shard: 10
`))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLayout(s)
	state := func(k int) cfpb.ShardState {
		if k == 5 {
			return cfpb.ShardState_SHARD_STATE_FAILED
		}
		return cfpb.ShardState_SHARD_STATE_DONE
	}
	summary := func(k int) *cfpb.Summary {
		w := l.Shard("", k)
		return &cfpb.Summary{Images: int64(w.Count), Correct: int64(w.Count) - int64(w.Trial),
			Signal: []*cfpb.Sum128{{Hi: 1}}, Noise: []*cfpb.Sum128{{Lo: 1 << 63}}}
	}
	res := Aggregate(l, state, summary)
	if len(res) != 2 {
		t.Fatalf("%d points", len(res))
	}
	var failed, complete int32
	for _, r := range res {
		failed += r.ShardsFailed
		complete += r.CompleteTrials
		if r.ShardsTotal != 6 {
			t.Fatalf("shards total %d", r.ShardsTotal)
		}
	}
	if failed != 1 || complete != 3 {
		t.Fatalf("failed %d complete trials %d", failed, complete)
	}
	w5 := l.Shard("", 5)
	other := res[1-w5.Point.Index]
	if tr := other.Trials[1]; tr.Images != 30 || tr.Correct != 27 || tr.Signal[0].Hi != 3 || tr.Noise[0].Hi != 1 || tr.Noise[0].Lo != 1<<63 {
		t.Fatalf("trial 1 of point %d: %v", other.Point.Index, tr)
	}
}

// The merged summaries of a point's trials name the calibration set its
// shards used; a shard that calibrated on other images is not hidden.
func TestAggregateNamesTheCalibrationSets(t *testing.T) {
	s, err := Parse("s.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 30}\ngrid: {gamma: [0, 1]}\ntrials: 2\nimages_per_shard: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLayout(s)
	const set, other = "16 images of mnist-train", "16 images of elsewhere-train"
	odd := -1 // a shard of point 1, trial 0, that calibrated elsewhere
	for k := 0; k < l.Shards(); k++ {
		if w := l.Shard("", k); w.Point.Index == 1 && w.Trial == 0 && w.Start == 10 {
			odd = k
		}
	}
	if odd < 0 {
		t.Fatal("no shard of point 1, trial 0 starts at image 10")
	}
	res := Aggregate(l, func(int) cfpb.ShardState { return cfpb.ShardState_SHARD_STATE_DONE }, func(k int) *cfpb.Summary {
		w := l.Shard("", k)
		c := set
		if k == odd {
			c = other
		}
		return &cfpb.Summary{Images: int64(w.Count), Correct: 1, Calibration: c}
	})
	for _, r := range res {
		for tr, sum := range r.Trials {
			want := set
			if r.Point.Index == 1 && tr == 0 {
				want = set + "; " + other
			}
			if sum.Calibration != want {
				t.Errorf("point %d trial %d: calibration %q, want %q", r.Point.Index, tr, sum.Calibration, want)
			}
		}
	}
	for _, c := range []struct{ a, b, want string }{
		{"", "", ""}, {"", set, set}, {set, "", set}, {set, set, set},
		{set, other, set + "; " + other}, {set + "; " + other, other, set + "; " + other},
	} {
		if got := MergeCalibration(c.a, c.b); got != c.want {
			t.Errorf("MergeCalibration(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
	if got := Merge(&cfpb.Summary{Calibration: set}, &cfpb.Summary{}).Calibration; got != set {
		t.Errorf("Merge dropped the calibration: %q", got)
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(paperSpec))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1], device: [{field: adc_bits, values: [0, 4]}]}"))
	f.Add([]byte("grid: {clip: [off, {alpha: 1e308, beta: .nan}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.yaml", b)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
			}
			return
		}
		// An accepted spec lays out within the limit (that each point
		// resolves to a simulator setting is simspec's fuzz test).
		l, err := NewLayout(s)
		if err != nil {
			t.Fatalf("accepted spec does not lay out: %v", err)
		}
		if l.Shards() > DefaultMaxShards {
			t.Fatalf("%d shards accepted", l.Shards())
		}
	})
}

func TestEachGranularityTakesItsCalibratedSigmaWUnlessOneIsGiven(t *testing.T) {
	spec := func(extra string) *cfpb.SweepSpec {
		s, err := Parse("g.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [4], device: [{field: granularity, values: [slice, value]}]}\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ps, _ := Points(spec(""))
	// The calibrated values of docs/REPRODUCTION.md, written out: the rule
	// lives in package device, and this is what a sweep must get from it.
	if ps[0].SigmaW != 0.483 || ps[1].SigmaW != 0.311 {
		t.Fatalf("defaults: %v %v, want 0.483 0.311", ps[0].SigmaW, ps[1].SigmaW)
	}
	ps, _ = Points(spec("profile: {sigma_w: 0.1}\n"))
	if ps[0].SigmaW != 0.1 || ps[1].SigmaW != 0.1 {
		t.Fatalf("explicit profile sigma_w: %v %v", ps[0].SigmaW, ps[1].SigmaW)
	}
	v, _ := Parse("v.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\nprofile: {granularity: value}\ngrid: {gamma: [4]}\n"))
	ps, _ = Points(v)
	if ps[0].SigmaW != 0.311 {
		t.Fatalf("profile granularity value: %v, want 0.311", ps[0].SigmaW)
	}
	// A device axis overrides the profile's granularity, and the point
	// follows the axis.
	ps, _ = Points(spec("profile: {granularity: value}\n"))
	if ps[0].SigmaW != 0.483 || ps[1].SigmaW != 0.311 {
		t.Fatalf("profile granularity value, axis [slice, value]: %v %v, want 0.483 0.311", ps[0].SigmaW, ps[1].SigmaW)
	}
	w, err := Parse("w.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [4], sigma_w: [0.2], device: [{field: granularity, values: [slice, value]}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ps, _ = Points(w)
	if ps[0].SigmaW != 0.2 || ps[1].SigmaW != 0.2 {
		t.Fatalf("sigma_w axis [0.2]: %v %v", ps[0].SigmaW, ps[1].SigmaW)
	}
}

func TestPruningIsValidated(t *testing.T) {
	for bad, want := range map[string]string{
		"pruning: {keep_rate: 1.5, blocks: [1]}":    "pruning.keep_rate: 1.5 must be in (0, 1]",
		"pruning: {keep_rate: 0.5, blocks: []}":     "pruning.blocks: needs at least one block",
		"pruning: {keep_rate: 0.5, blocks: [2, 2]}": "pruning.blocks[1]: 2 repeats pruning.blocks[0]",
	} {
		_, err := Parse("p.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [5]}\n"+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
}

func TestAnEmptySpecSaysItIsEmpty(t *testing.T) {
	for name, b := range map[string]string{"empty": "", "blank": "\n  \n", "comments": "# a spec\n# to do\n", "null": "~\n"} {
		_, err := Parse("empty.yaml", []byte(b))
		if err == nil || !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), "empty.yaml: the spec is empty") ||
			strings.Contains(err.Error(), "EOF") {
			t.Errorf("%s spec: %v, want ErrSpec naming empty.yaml and saying it is empty", name, err)
		}
	}
}

// TestAMistypedFieldNamesItsPathAndTheFieldsAllowedThere checks every level
// of the spec: the error names the field's path and line and lists the
// fields allowed there, never a Go type.
func TestAMistypedFieldNamesItsPathAndTheFieldsAllowedThere(t *testing.T) {
	const base = "model: {path: m}\ndataset: {kind: mnist}\n"
	cases := []struct{ spec, want string }{
		{base + "grid: {gama: [1]}", "grid.gama (line 3): unknown field; the fields allowed in grid are gamma, clip, clip_product, sigma_r, sigma_w, device"},
		{base + "grid: {gamma: [1]}\ntrails: 3", "trails (line 4): unknown field; the fields allowed at the top level are name, model, dataset, profile, grid, trials,"},
		{"model: {path: m, sha: abc}\ndataset: {kind: mnist}\ngrid: {gamma: [1]}", "model.sha (line 1): unknown field; the fields allowed in model are path, sha256"},
		{"model: {path: m}\ndataset: {kind: mnist, spilt: test}\ngrid: {gamma: [1]}", "dataset.spilt (line 2): unknown field; the fields allowed in dataset are kind, path, split, limit"},
		{base + "profile: {sigma: 0.1}\ngrid: {gamma: [1]}", "profile.sigma (line 3): unknown field; the fields allowed in profile are gmin_us, gmax_us,"},
		{base + "grid: {gamma: [1], clip_product: {alphas: [2], beta: [0.5]}}", "grid.clip_product.alphas (line 3): unknown field; the fields allowed in grid.clip_product are alpha, beta, include_off"},
		{base + "grid: {gamma: [1], clip: [off, {alpha: 2, betta: 0.5}]}", "grid.clip[1].betta (line 3): unknown field; the fields allowed in grid.clip[1] are off, alpha, beta"},
		{base + "grid: {gamma: [1], device: [{fields: adc_bits, values: [4]}]}", "grid.device[0].fields (line 3): unknown field; the fields allowed in grid.device[0] are field, values"},
		{base + "grid: {gamma: [1]}\npruning: {keep: 0.5, blocks: [1]}", "pruning.keep (line 4): unknown field; the fields allowed in pruning are keep_rate, blocks, fuse"},
		{base + "grid: {gamma: [1], device: [{field: adc_bitz, values: [4]}]}", `"adc_bitz" is not a device-profile field; the fields are gmin_us, gmax_us,`},
		{base + "grid: {gamma: [one]}", `grid.gamma[0] (line 3): "one" is not a number`},
		{base + "grid: {gamma: 4}", "grid.gamma (line 3): want a list, e.g. [4]"},
		{base + "grid: [4]", "grid (line 3): want a mapping of fields (gamma, clip,"},
		{base + "grid: {gamma: [1]}\ntrials: many", `trials (line 4): "many" is not a whole number`},
		{base + "grid: {gamma: [1]}\nprofile: {clamp_negative: maybe}", `profile.clamp_negative (line 4): "maybe" is not true or false`},
	}
	for _, c := range cases {
		_, err := Parse("bad.yaml", []byte(c.spec))
		if err == nil || !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerror %v\nwant ErrSpec containing %q", c.spec, err, c.want)
			continue
		}
		for _, goName := range []string{"sweep.", "YAML", "float64", "int32", "not found in type", "unmarshal"} {
			if strings.Contains(err.Error(), goName) {
				t.Errorf("%s\nerror %q names Go's %q", c.spec, err, goName)
			}
		}
	}
}

func TestAliasesAreCheckedOnceNotExpanded(t *testing.T) {
	// A "billion laughs" document: nine levels of nine aliases each.
	var b strings.Builder
	b.WriteString("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1]}\nx0: &a0 {gama: 1}\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), ","))
	}
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("a spec with unknown fields was accepted")
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v to refuse: aliases were expanded", el)
	}
	if n := strings.Count(err.Error(), "unknown field"); n > 10 {
		t.Fatalf("%d errors for 10 unknown fields written once each", n)
	}
}

func TestASpecOverTheByteLimitIsRefusedBeforeParsing(t *testing.T) {
	big := []byte("name: \"" + strings.Repeat("x", MaxSpecBytes) + "\"\n")
	_, err := Parse("big.yaml", big)
	if err == nil || !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), fmt.Sprintf("over the limit of %d bytes", MaxSpecBytes)) {
		t.Fatalf("err = %v", err)
	}
	p := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("Load: %v", err)
	}
	// A message built in code is held to the same cap.
	s := &cfpb.SweepSpec{Name: strings.Repeat("x", MaxSpecBytes), Model: &cfpb.ModelRef{Path: "m"},
		Dataset: &cfpb.DatasetRef{Kind: "mnist", Split: "test"}, Grid: &cfpb.Grid{Gamma: []float64{1}}, Trials: 1, ImagesPerShard: 10}
	if err := Validate(s, Limits{}); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("Validate: %v", err)
	}
}

// bigProductSpec is a small spec whose clip product has n x n settings.
func bigProductSpec(n int) []byte {
	var b strings.Builder
	b.WriteString("model: {path: m}\ndataset: {kind: mnist}\ngrid:\n  gamma: [0, 1, 2, 3, 4, 5]\n  clip_product:\n    include_off: true\n    alpha: [")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s%d", map[bool]string{true: "", false: ", "}[i == 0], i+1)
	}
	b.WriteString("]\n    beta: [")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s%g", map[bool]string{true: "", false: ", "}[i == 0], 1-0.98*float64(i)/float64(n)) // in [0.02, 1]
	}
	b.WriteString("]\nimages_per_shard: 500\n")
	return []byte(b.String())
}

func TestAHugeClipProductIsRefusedAtOnceWithItsSize(t *testing.T) {
	b := bigProductSpec(1000)
	_, err := Parse("big.yaml", b)
	want := "grid.clip_product: 1,000 alphas x 1,000 betas + off = 1,000,001 clip settings x 6 gamma: 6,000,006 points x 1 trials x 20 image ranges of 500 = 120,000,120 shards, over the limit of 1,000,000"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to contain %q", err, want)
	}
	// The size is computed, not expanded: validation of a 3000 x 3000
	// product (9 million settings) allocates no more than that of a
	// 30 x 30 one does per value of the spec.
	s, err := decodeSpec(bigProductSpec(3000))
	if err != nil {
		t.Fatal(err)
	}
	spec := s.proto()
	ApplyDefaults(spec)
	allocs := testing.AllocsPerRun(3, func() { _ = Validate(spec, Limits{}) })
	if allocs > 1000 {
		t.Fatalf("Validate of a 3000 x 3000 product made %.0f allocations; it expands the grid", allocs)
	}
}

func TestExplicitClipsThatRepeatTheProductAreReported(t *testing.T) {
	_, err := Parse("d.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\n"+
		"grid: {gamma: [1], clip: [off, {alpha: 2, beta: 0.5}], clip_product: {include_off: true, alpha: [1, 2], beta: [1, 0.5]}}"))
	for _, want := range []string{"setting 2 (off) repeats setting 0", "setting 6 (alpha 2 beta 0.5) repeats setting 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestEveryDeviceCombinationIsValidated(t *testing.T) {
	const base = "model: {path: m}\ndataset: {kind: mnist}\n"
	for spec, want := range map[string]string{
		base + "grid: {gamma: [1], device: [{field: gmin_us, values: [0.1, 5]}, {field: gmax_us, values: [10, 2]}]}": "grid.device: the combination gmin_us=5 gmax_us=2: gmax_us: 2 must be finite and above gmin_us (5)",
		base + "path: fast\ngrid: {gamma: [1], device: [{field: adc_bits, values: [0, 6]}]}":                         "path: fast cannot model an ADC, and the device combination adc_bits=6 has adc_bits 6",
		base + "path: fast\nprofile: {adc_bits: 4}\ngrid: {gamma: [1]}":                                              "path: fast cannot model an ADC, and the profile has adc_bits 4",
		base + "grid: {gamma: [1], clip: [{alpha: 2, beta: 0.02}], device: [{field: gmax_us, values: [10, 0.5]}]}":   "grid.clip[0].beta: 0.02 is outside [0.2, 1]",
	} {
		_, err := Parse("c.yaml", []byte(spec))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\nerr = %v\nwant %q", spec, err, want)
		}
	}
}

func BenchmarkValidateClipProduct3000x3000(b *testing.B) {
	y := bigProductSpec(3000)
	b.SetBytes(int64(len(y)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("big.yaml", y); err == nil {
			b.Fatal("a 3000 x 3000 product was accepted")
		}
	}
}

// BenchmarkValidateClipProduct3000x3000Message is the leader's cost: the
// spec arrives as a message and is refused by its size alone.
func BenchmarkValidateClipProduct3000x3000Message(b *testing.B) {
	y, err := decodeSpec(bigProductSpec(3000))
	if err != nil {
		b.Fatal(err)
	}
	s := y.proto()
	ApplyDefaults(s)
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(s, Limits{}); err == nil {
			b.Fatal("a 3000 x 3000 product was accepted")
		}
	}
}

func TestCheckPathsNamesEveryMissingInput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.safetensors"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "imgs"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := func(model, kind, data string) *cfpb.SweepSpec {
		return &cfpb.SweepSpec{Model: &cfpb.ModelRef{Path: model}, Dataset: &cfpb.DatasetRef{Kind: kind, Path: data, Limit: 4}}
	}
	if err := CheckPaths(spec("m.safetensors", "folder", "imgs"), dir); err != nil {
		t.Fatalf("present inputs: %v", err)
	}
	if err := CheckPaths(spec("m.safetensors", "mnist", ""), dir); err != nil {
		t.Fatalf("a named data set: %v", err)
	}
	for _, c := range []struct {
		spec *cfpb.SweepSpec
		want []string
	}{
		{spec("gone.safetensors", "folder", "imgs"), []string{"model.path: " + filepath.Join(dir, "gone.safetensors") + " does not exist"}},
		{spec("m.safetensors", "folder", "nope"), []string{"dataset.path: " + filepath.Join(dir, "nope") + " does not exist"}},
		{spec("imgs", "idx", "m.safetensors"), []string{"model.path: " + filepath.Join(dir, "imgs") + " is not a regular file",
			"dataset.path: " + filepath.Join(dir, "m.safetensors") + " is not a folder"}},
	} {
		err := CheckPaths(c.spec, dir)
		for _, w := range c.want {
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), w) {
				t.Errorf("err = %v, want ErrInput containing %q", err, w)
			}
		}
	}
}
