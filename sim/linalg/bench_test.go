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

// BenchmarkVarianceProduct compares a read-noise variance product of DeiT-S's
// qkv shape in float32 (MatMul) and in bfloat16 (MatMulBF16, operands
// converted as the simulator does, the input squares included).
func BenchmarkVarianceProduct(b *testing.B) {
	m, n, k := 197, 1152, 384
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, m*k)
	for i := range x {
		x[i] = r.Float32()
	}
	q := make([]float32, k*n)
	for i := range q {
		q[i] = r.Float32()
	}
	c := make([]float32, m*n)
	b.Run("float32", func(b *testing.B) {
		x2 := make([]float32, m*k)
		for i := 0; i < b.N; i++ {
			for p, v := range x {
				x2[p] = v * v
			}
			MatMul(m, n, k, x2, k, q, n, c, n, false)
		}
		b.ReportMetric(float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
	})
	b.Run("bfloat16", func(b *testing.B) {
		var pb PackedBF16
		pb.Pack(q, k, n, n)
		a := make([]uint16, m*pb.KPad)
		var sc BF16Scratch
		for i := 0; i < b.N; i++ {
			SquaresBF16(a, pb.KPad, x, k, m, k, pb.KPad)
			MatMulBF16(m, a, pb.KPad, &pb, c, n, &sc)
		}
		b.ReportMetric(float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
	})
}
