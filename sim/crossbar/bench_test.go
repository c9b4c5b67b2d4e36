package crossbar

import (
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/keyrand"
)

// BenchmarkWriteKV197x64 writes one DeiT-S head's K^T (64 x 197) with write
// noise and ClipFormer, the fast path's per-image work per matrix.
func BenchmarkWriteKV197x64(b *testing.B) {
	c := mustCodec(b, Default())
	r := rand.New(rand.NewPCG(1, 1))
	src := make([]float32, 197*64)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	eff := make([]float32, len(src))
	rng := keyrand.New(keyrand.Key{})
	clip := ClipFormer{On: true, Alpha: 2, Beta: 0.25}
	for _, name := range []string{"noise", "noise_clip", "noise_readvar"} {
		b.Run(name, func(b *testing.B) {
			var q []float32
			cl := ClipFormer{}
			if name == "noise_clip" {
				cl = clip
			}
			if name == "noise_readvar" {
				q = make([]float32, len(src))
			}
			for i := 0; i < b.N; i++ {
				c.Write(eff, q, src, 3, cl, 0.08, rng)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
		})
	}
}

func BenchmarkQuantizeRows197x64(b *testing.B) {
	c := mustCodec(b, Default())
	r := rand.New(rand.NewPCG(1, 1))
	src := make([]float32, 197*64)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	dst := make([]float32, len(src))
	for i := 0; i < b.N; i++ {
		c.QuantizeRows(dst, src, 197, 64)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
}
