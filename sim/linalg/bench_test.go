package linalg

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMatMul measures the kernel on the shapes of a DeiT-S block
// (197 tokens, dim 384, mlp 1536) and of the bundled models.
func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, n, k int }{
		{197, 1152, 384}, // DeiT-S qkv
		{197, 1536, 384}, // DeiT-S fc1
		{197, 384, 1536}, // DeiT-S fc2
		{197, 197, 64},   // DeiT-S Q K^T per head
		{136, 576, 192},  // Fashion-MNIST model qkv, batch 8
	} {
		a := randSlice(r, s.m*s.k)
		bb := randSlice(r, s.k*s.n)
		c := make([]float32, s.m*s.n)
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				MatMul(s.m, s.n, s.k, a, s.k, bb, s.n, c, s.n, false)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
