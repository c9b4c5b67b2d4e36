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

// BenchmarkMatMulKernels runs each kernel this CPU has on a DeiT-S and a
// Fashion-MNIST shape, side by side: they give the same bits, at different
// speeds.
func BenchmarkMatMulKernels(b *testing.B) {
	kernels := []struct {
		name string
		ok   bool
		f    func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool)
	}{
		{"avx512", hasAVX512, matMulAsm},
		{"avx2fma", hasFMA, matMulFMA},
		{"go", true, matMulGo},
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, n, k int }{
		{197, 1152, 384}, // DeiT-S qkv
		{136, 576, 192},  // Fashion-MNIST model qkv, batch 8
	} {
		m, n, k := s.m, s.n, s.k
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		for _, kern := range kernels {
			if !kern.ok {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", kern.name, m, n, k), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					kern.f(m, n, k, a, k, bb, n, c, n, false)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
