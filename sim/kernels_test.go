package sim

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// underEachLevel runs f under every kernel level this CPU has (pure Go,
// AVX2 + FMA, AVX-512), as CLIPFORMER_KERNELS would choose them, and returns
// f's results by level.
func underEachLevel[T any](t *testing.T, f func(t *testing.T) T) map[linalg.Level]T {
	t.Helper()
	out := map[linalg.Level]T{}
	for _, l := range linalg.Available() {
		restore, err := linalg.UseKernels(l)
		if err != nil {
			t.Fatal(err)
		}
		out[l] = f(t)
		restore()
	}
	return out
}

// The simulator gives the same bits under every kernel level: the same
// logits and SNR sums, on one call and in shards on other worker counts and
// batch sizes (evaluateWholeAndSharded), with and without read noise, for
// the float model and the crossbar fast path. This is what makes a result
// independent of the CPU that computed it.
func TestEveryKernelLevelGivesTheSameBits(t *testing.T) {
	m, d := tinySetup(t, 23)
	ctx := context.Background()
	read := crossbar.Default()
	read.SigmaR = 0.05
	for _, tc := range []struct {
		name string
		s    Setting
	}{
		{"ideal", Setting{Ideal: true}},
		{"writenoise_clipformer", noisySetting(crossbar.Default())},
		{"writenoise_clipformer_readnoise", noisySetting(read)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			byLevel := underEachLevel(t, func(t *testing.T) *Result {
				var kv *KVScales
				if !tc.s.Ideal {
					var err error
					if kv, err = CalibrateKV(ctx, m, d, 10, 1); err != nil {
						t.Fatal(err)
					}
				}
				return evaluateWholeAndSharded(t, m, d, tc.s, kv)
			})
			compareLevels(t, byLevel)
		})
	}
}

// The bundled MNIST and Fashion-MNIST models on real test images, with
// write noise, ClipFormer and read noise: the same bits under every kernel
// level.
func TestBundledModelGivesTheSameBitsUnderEveryKernelLevel(t *testing.T) {
	for _, tc := range []struct{ model, data string }{{"vit-mnist", "mnist"}, {"vit-fashion-mnist", "fashion-mnist"}} {
		t.Run(tc.model, func(t *testing.T) {
			m, err := vit.Load(filepath.Join("..", "models", tc.model+".safetensors"), vit.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			test, err := dataset.Open(tc.data, "test")
			if errors.Is(err, dataset.ErrNotFound) {
				t.Skipf("%v (MNIST ships with the Go module; Fashion-MNIST needs Debian's dataset-fashion-mnist or %s)", err, dataset.DataEnv)
			}
			if err != nil {
				t.Fatal(err)
			}
			p := crossbar.Default()
			p.SigmaR = 0.05
			s := Setting{Profile: p, Gamma: 3, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}, Seed: 5}
			ctx := context.Background()
			byLevel := underEachLevel(t, func(t *testing.T) *Result {
				// Calibrated on other test images: opening the training
				// split would cost more than the test.
				kv, err := CalibrateKV(ctx, m, dataset.Slice(test, 100, 2), 2, 2)
				if err != nil {
					t.Fatal(err)
				}
				r, err := Evaluate(ctx, Request{Model: m, Data: test, Count: 3, Setting: s, KV: kv, Workers: 2, Batch: 2, Predictions: true})
				if err != nil {
					t.Fatal(err)
				}
				return r
			})
			compareLevels(t, byLevel)
		})
	}
}

// compareLevels fails the test unless every level's result has the pure-Go
// level's bits.
func compareLevels(t *testing.T, byLevel map[linalg.Level]*Result) {
	t.Helper()
	ref := byLevel[linalg.LevelGeneric]
	for _, l := range linalg.Available() {
		if diff := resultsDiffer(ref, byLevel[l]); diff != "" {
			t.Fatalf("%s kernels against pure Go: %s", l, diff)
		}
	}
	if len(byLevel) < 2 {
		t.Logf("this CPU runs only the %s kernels, so there was nothing to compare them with", linalg.Kernels())
	}
}
