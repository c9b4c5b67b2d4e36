package sweep_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/internal/simspec"
	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
	"github.com/clipformer/clipformer/worker"
)

// The rule that lets a coordinator copy trial 0 is held to the simulator
// itself: at every point of grids that switch each noise source on and off
// (write noise through gamma and sigma_w, read noise, programming noise,
// where each sits on crossbars, on both paths), trials 0 and 1 give the
// same bits (every logit, the correct count and the exact SNR sums) exactly
// when sweep.TrialIndependent says so. Marking a point as a copy that is
// not one, or failing to mark one, fails here. The package's own tests
// never link the simulator into the coordinator: this is an external test.
func TestTrialIndependentMatchesTheSimulator(t *testing.T) {
	model := simtest.RGBModel(t, 3, 7)
	images := simtest.ImageFolder(t, filepath.Join(t.TempDir(), "imgs"), 3, 1, 0)
	grids := []string{`
grid:
  gamma: [0, 2]
  sigma_r: [0, 0.05]
  sigma_w: [0, 0.4]
  device:
    - {field: programming_gamma, values: [0, 1]}
    - {field: on_crossbar, values: [[qkv, proj, fc1, fc2, qk, av], [qk, av], [fc1, head]]}
`, `
path: reference
profile: {adc_bits: 6, granularity: value, clamp_negative: true}
grid: {gamma: [0, 2], sigma_r: [0, 0.05]}
`}
	exec := &worker.Executor{AllowUnchecked: true, Threads: 1}
	independent, dependent := 0, 0
	for _, g := range grids {
		spec, err := sweep.Parse("s.yaml", []byte(fmt.Sprintf("model: {path: %s}\ndataset: {kind: folder, path: %s, limit: 2}\n%s", model, images, g)))
		if err != nil {
			t.Fatal(err)
		}
		l, err := sweep.NewLayout(spec)
		if err != nil {
			t.Fatal(err)
		}
		m, err := exec.Model(spec.Model)
		if err != nil {
			t.Fatal(err)
		}
		data, err := exec.Dataset(spec.Dataset, m)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := sim.CalibrateKV(context.Background(), m, data, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range l.Points {
			same := evaluateBits(t, spec, p, 0, m, data, kv) == evaluateBits(t, spec, p, 1, m, data, kv)
			if rule := l.TrialIndependent(i); rule != same {
				t.Errorf("point %d (gamma %v, sigma_r %v, sigma_w %v, device %v, path %q): trials 0 and 1 give the same bits: %v; TrialIndependent: %v",
					i, p.Gamma, p.SigmaR, p.SigmaW, p.Device, spec.Path, same, rule)
			}
			if same {
				independent++
			} else {
				dependent++
			}
		}
	}
	// Both kinds must occur, or the check above proves nothing.
	if independent < 4 || dependent < 4 {
		t.Fatalf("%d trial-independent and %d trial-dependent points: the grids no longer test both", independent, dependent)
	}
}

// evaluateBits runs point p's trial on every image and returns its outcome
// bit for bit: each image's logits, the correct count and the SNR sums.
func evaluateBits(t *testing.T, spec *cfpb.SweepSpec, p *cfpb.Point, trial int, m *vit.Model, data dataset.Dataset, kv *sim.KVScales) string {
	t.Helper()
	st, err := simspec.Setting(spec, p, trial)
	if err != nil {
		t.Fatal(err)
	}
	req := sim.Request{Model: m, Data: data, Setting: st, Workers: 1, Predictions: true}
	if st.Profile.KVScale == crossbar.Static {
		req.KV = kv
	}
	r, err := sim.Evaluate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("%d %v %v", r.Correct, r.Signal, r.Noise)
	for _, pr := range r.Predictions {
		for _, v := range pr.Logits {
			s += fmt.Sprintf(" %08x", math.Float32bits(v))
		}
	}
	return s
}
