package vit

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/safetensors"
)

// Every bundled model's ideal forward gives the same logits, bit for bit,
// under every kernel level this CPU has (pure Go, AVX2 + FMA, AVX-512, as
// CLIPFORMER_KERNELS would choose them), on the golden inputs PyTorch's
// logits were computed from; and each level stays within the golden
// tolerance of PyTorch's logits.
func TestEveryKernelLevelGivesTheSameLogits(t *testing.T) {
	const images = 2 // the pure-Go products are slow; two images cover batching
	for _, name := range bundled {
		t.Run(name, func(t *testing.T) {
			m, err := Load(modelPath(name), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			g, err := safetensors.Read(filepath.Join("..", "..", "models", name+".golden.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			inputs, err := g.Get("inputs", -1, m.InChans, m.ImgSize, m.ImgSize)
			if err != nil {
				t.Fatal(err)
			}
			want, err := g.Get("logits", inputs.Shape[0], m.Classes)
			if err != nil {
				t.Fatal(err)
			}
			idx := []int{0, 1}
			var ref []float32
			for _, l := range linalg.Available() {
				restore, err := linalg.UseKernels(l)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]float32, images*m.Classes)
				m.Forward(&Ideal{}, &Workspace{}, inputs.Data[:images*m.InChans*m.ImgSize*m.ImgSize], idx, got)
				restore()
				for i := range got {
					if d := math.Abs(float64(got[i] - want.Data[i])); d > 1e-4 {
						t.Fatalf("%s kernels: logit %d differs from PyTorch's by %g", l, i, d)
					}
				}
				if ref == nil {
					ref = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%s kernels: logit %d is %v, pure Go %v", l, i, got[i], ref[i])
					}
				}
			}
		})
	}
}
