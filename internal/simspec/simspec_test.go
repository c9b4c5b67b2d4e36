package simspec

import (
	"slices"
	"testing"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
)

func parse(t *testing.T, y string) *cfpb.SweepSpec {
	t.Helper()
	s, err := sweep.Parse("s.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeviceAxisReachesTheSetting(t *testing.T) {
	s := parse(t, `
model: {path: m}
dataset: {kind: mnist, limit: 10}
profile: {sigma_w: 0.05}
grid:
  gamma: [4]
  sigma_r: [0, 0.02]
  device: [{field: granularity, values: [slice, value]}, {field: adc_bits, values: [0, 6]}]
path: reference
`)
	points, err := sweep.Points(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 8 {
		t.Fatalf("%d points, want 8", len(points))
	}
	st, err := Setting(s, points[7], 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Profile.Granularity != "value" || st.Profile.ADCBits != 6 || st.Profile.SigmaR != 0.02 ||
		st.Profile.EffectiveSigmaW() != 0.05 || st.Gamma != 4 || st.Trial != 2 || st.Seed != 1 {
		t.Fatalf("setting %+v", st)
	}
}

func TestEachGranularityTakesItsCalibratedSigmaWInTheSetting(t *testing.T) {
	s := parse(t, "model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [4], device: [{field: granularity, values: [slice, value]}]}\n")
	ps, err := sweep.Points(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{crossbar.CalibratedSigmaWSlice, crossbar.CalibratedSigmaWValue} {
		st, err := Setting(s, ps[i], 0)
		if err != nil {
			t.Fatal(err)
		}
		if st.Profile.EffectiveSigmaW() != want {
			t.Errorf("point %d (%s): sigma_w %v, want %v", i, st.Profile.Granularity, st.Profile.EffectiveSigmaW(), want)
		}
	}
}

func TestPruningReachesTheSetting(t *testing.T) {
	s := parse(t, "model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [5]}\npruning: {keep_rate: 0.7, blocks: [1, 3]}\n")
	ps, _ := sweep.Points(s)
	st, err := Setting(s, ps[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Prune.KeepRate != 0.7 || len(st.Prune.Blocks) != 2 || st.Prune.Blocks[1] != 3 || !st.Prune.Fuse {
		t.Fatalf("prune %+v (fuse defaults to true, as in EViT)", st.Prune)
	}
}

func TestSummaryRoundTripsAResult(t *testing.T) {
	var a, b sim.ExactSum
	a.Add(0.125)
	b.Add(-7)
	r := &sim.Result{Images: 9, Correct: 4, Signal: []sim.ExactSum{a, b}, Noise: []sim.ExactSum{b, a}}
	got := Result(Summarize(r))
	if got.Images != 9 || got.Correct != 4 || !slices.Equal(got.Signal, r.Signal) || !slices.Equal(got.Noise, r.Noise) {
		t.Fatalf("round trip %+v, want %+v", got, r)
	}
}

// FuzzAcceptedSpecsResolve holds the coordinator's validation to the
// simulator's: every point of a spec that sweep accepts resolves to a
// simulator setting.
func FuzzAcceptedSpecsResolve(f *testing.F) {
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1], device: [{field: adc_bits, values: [0, 4]}]}"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\nprofile: {gmin_us: 1, gmax_us: 2}\ngrid: {gamma: [1], clip: [{alpha: 1, beta: 0.5}]}"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\npath: fast\nprofile: {adc_bits: 4}\ngrid: {gamma: [1]}"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1], device: [{field: gmax_us, values: [0.5, 20]}], clip: [{alpha: 2, beta: 0.02}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := sweep.Parse("fuzz.yaml", b)
		if err != nil {
			return
		}
		points, err := sweep.Points(s)
		if err != nil {
			t.Fatalf("accepted spec does not expand: %v", err)
		}
		for i, p := range points[:min(len(points), 64)] {
			if _, err := Setting(s, p, 0); err != nil {
				t.Fatalf("point %d of an accepted spec: %v", i, err)
			}
		}
	})
}
