package crossbar

import (
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/linalg"
)

// BenchmarkNoiseFreeKTProduct is one DeiT-S head's Q K^T at gamma 0 with
// ClipFormer, everything the fast path does per head: write K^T (64 x 197),
// quantise Q (197 x 64), multiply. The float case stores effective values
// and multiplies in float32; the integer case stores signed codes, packs
// them and multiplies exactly. Compare their ns/op, or on a machine shared
// with other jobs their cpu-us/op, side by side.
func BenchmarkNoiseFreeKTProduct(b *testing.B) {
	const tokens, hd = 197, 64
	c := mustCodec(b, Default())
	r := rand.New(rand.NewPCG(1, 1))
	kt, q := make([]float32, hd*tokens), make([]float32, tokens*hd)
	for i := range kt {
		kt[i], q[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	clip := ClipFormer{On: true, Alpha: 2, Beta: 0.25}
	const scale = 3
	dst := make([]float32, tokens*tokens)
	b.Run("float", func(b *testing.B) {
		eff, xq := make([]float32, len(kt)), make([]float32, len(q))
		defer reportCPU(b, processCPUSeconds())
		for i := 0; i < b.N; i++ {
			c.Write(eff, nil, kt, scale, clip, 0, nil)
			c.QuantizeRows(xq, q, tokens, hd)
			linalg.MatMul(tokens, tokens, hd, xq, hd, eff, tokens, dst, tokens, false)
		}
	})
	b.Run("int", func(b *testing.B) {
		xc := make([]int16, len(q))
		units, colUnit := make([]float64, tokens), []float64{c.Unit(scale)}
		var packed linalg.PackedInt16
		defer reportCPU(b, processCPUSeconds())
		for i := 0; i < b.N; i++ {
			c.SignedCodesPacked(&packed, nil, kt, hd, tokens, scale, clip)
			c.QuantizeCodes(xc, hd, units, q, tokens, hd)
			if err := linalg.MatMulInt16(tokens, xc, hd, &packed, dst, tokens, units, colUnit, c.P.MaxInput()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the process's CPU time per op since cpu0.
func reportCPU(b *testing.B, cpu0 float64) {
	if cpu := processCPUSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(cpu*1e6/float64(b.N), "cpu-us/op")
	}
}
