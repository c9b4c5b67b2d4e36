package sweep

import (
	"errors"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim/crossbar"
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
colour: blue`, "field colour not found"},
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
	if err == nil || !strings.Contains(err.Error(), "= 2232 shards, more than the limit of 1000") {
		t.Fatalf("err = %v", err)
	}
	if err := Validate(s, Limits{RequireSHA256: true}); err == nil || !strings.Contains(err.Error(), "model.sha256: required") {
		t.Fatalf("err = %v", err)
	}
}

func TestDeviceAxisReachesTheSetting(t *testing.T) {
	s, err := Parse("s.yaml", []byte(`
model: {path: m}
dataset: {kind: mnist, limit: 10}
profile: {sigma_w: 0.05}
grid:
  gamma: [4]
  sigma_r: [0, 0.02]
  device: [{field: granularity, values: [slice, value]}, {field: adc_bits, values: [0, 6]}]
path: reference
`))
	if err != nil {
		t.Fatal(err)
	}
	points, err := Points(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 8 {
		t.Fatalf("%d points, want 8", len(points))
	}
	last := points[7]
	st, err := Setting(s, last, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Profile.Granularity != "value" || st.Profile.ADCBits != 6 || st.Profile.SigmaR != 0.02 ||
		st.Profile.EffectiveSigmaW() != 0.05 || st.Gamma != 4 || st.Trial != 2 || st.Seed != 1 {
		t.Fatalf("setting %+v", st)
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
		// An accepted spec lays out and every point resolves to a setting.
		l, err := NewLayout(s)
		if err != nil {
			t.Fatalf("accepted spec does not lay out: %v", err)
		}
		if l.Shards() > DefaultMaxShards {
			t.Fatalf("%d shards accepted", l.Shards())
		}
		for i, p := range l.Points {
			if i > 50 {
				break
			}
			if _, err := Setting(s, p, 0); err != nil {
				t.Fatalf("point %d: %v", i, err)
			}
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
	if ps[0].SigmaW != crossbar.CalibratedSigmaWSlice || ps[1].SigmaW != crossbar.CalibratedSigmaWValue {
		t.Fatalf("defaults: %v %v", ps[0].SigmaW, ps[1].SigmaW)
	}
	st, _ := Setting(spec(""), ps[1], 0)
	if st.Profile.Granularity != crossbar.PerValue || st.Profile.EffectiveSigmaW() != crossbar.CalibratedSigmaWValue {
		t.Fatalf("setting %v %v", st.Profile.Granularity, st.Profile.EffectiveSigmaW())
	}
	ps, _ = Points(spec("profile: {sigma_w: 0.1}\n"))
	if ps[0].SigmaW != 0.1 || ps[1].SigmaW != 0.1 {
		t.Fatalf("explicit profile sigma_w: %v %v", ps[0].SigmaW, ps[1].SigmaW)
	}
	v, _ := Parse("v.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\nprofile: {granularity: value}\ngrid: {gamma: [4]}\n"))
	ps, _ = Points(v)
	if ps[0].SigmaW != crossbar.CalibratedSigmaWValue {
		t.Fatalf("profile granularity value: %v", ps[0].SigmaW)
	}
}

func TestPruningReachesTheSettingAndIsValidated(t *testing.T) {
	s, err := Parse("p.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [5]}\npruning: {keep_rate: 0.7, blocks: [1, 3]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := Points(s)
	st, err := Setting(s, ps[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Prune.KeepRate != 0.7 || len(st.Prune.Blocks) != 2 || st.Prune.Blocks[1] != 3 || !st.Prune.Fuse {
		t.Fatalf("prune %+v (fuse defaults to true, as in EViT)", st.Prune)
	}
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
