package crossbar

import (
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/keyrand"
)

// BenchmarkWriteKV197x64 writes one DeiT-S head's K^T (64 x 197) with write
// noise and ClipFormer, the fast path's per-image work per matrix; with the
// read-noise variances cell by cell, also as vectorNormals does it
// (WriteNormals).
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
	normals := keyrand.NewNormals(keyrand.Key{})
	for _, name := range []string{"noise", "noise_clip", "noise_readvar", "noise_readvar_normals"} {
		b.Run(name, func(b *testing.B) {
			var q []float32
			cl := ClipFormer{}
			if name == "noise_clip" {
				cl = clip
			}
			if name == "noise_readvar" || name == "noise_readvar_normals" {
				q = make([]float32, len(src))
			}
			for i := 0; i < b.N; i++ {
				if name == "noise_readvar_normals" {
					c.WriteNormals(eff, q, src, 3, cl, 0.08, normals)
					continue
				}
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
