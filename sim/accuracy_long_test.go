package sim

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
)

// longTests gates the checks that evaluate full 10,000-image test sets.
// scripts/test.sh (and so CI) runs them with CLIPFORMER_LONG=1.
func longTests(t *testing.T) {
	if os.Getenv("CLIPFORMER_LONG") == "" {
		t.Skip("full-test-set check; scripts/test.sh runs it with CLIPFORMER_LONG=1")
	}
}

// With gamma = 0, sigma_r = 0 and 8-bit quantisation of weights, K, V and
// inputs, the crossbar model stays within 0.5 points of the float model on
// both bundled models' full test sets.
func TestLongQuantisedCrossbarWithinHalfPointOfFloat(t *testing.T) {
	longTests(t)
	for _, tc := range []struct{ model, data string }{{"vit-mnist", "mnist"}, {"vit-fashion-mnist", "fashion-mnist"}} {
		t.Run(tc.model, func(t *testing.T) {
			ctx := context.Background()
			m, err := vit.Load(filepath.Join("..", "models", tc.model+".safetensors"), vit.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			test, err := dataset.Open(tc.data, "test")
			if err != nil {
				t.Fatal(err)
			}
			train, err := dataset.Open(tc.data, "train")
			if err != nil {
				t.Fatal(err)
			}
			ideal, err := Evaluate(ctx, Request{Model: m, Data: test, Setting: Setting{Ideal: true}})
			if err != nil {
				t.Fatal(err)
			}
			p := crossbar.Default()
			kv, err := CalibrateKV(ctx, m, train, p.CalibrationImages, 0)
			if err != nil {
				t.Fatal(err)
			}
			xbar, err := Evaluate(ctx, Request{Model: m, Data: test, Setting: Setting{Profile: p, Gamma: 0}, KV: kv})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: float %.2f %%, crossbar (gamma 0, 8-bit) %.2f %% on %d images, <SNR> %.1f dB",
				tc.model, ideal.Accuracy(), xbar.Accuracy(), xbar.Images, xbar.MeanSNR())
			if xbar.Images != 10000 {
				t.Fatalf("evaluated %d images, want the full 10000", xbar.Images)
			}
			if d := math.Abs(ideal.Accuracy() - xbar.Accuracy()); d > 0.5 {
				t.Fatalf("crossbar accuracy %.2f %% is %.2f points from the float model's %.2f %%", xbar.Accuracy(), d, ideal.Accuracy())
			}
		})
	}
}
