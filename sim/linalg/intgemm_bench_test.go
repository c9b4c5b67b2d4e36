package linalg

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkIntVsFloatProduct runs, side by side on DeiT-S shapes, the float
// product (MatMul, and its AVX2 + FMA kernel) and the integer one
// (MatMulInt16, which scales its exact sums to float32) with every integer
// kernel family this CPU has. GMAC/s counts the m n k multiply-adds.
func BenchmarkIntVsFloatProduct(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, n, k int }{
		{197, 1152, 384}, // qkv
		{197, 1536, 384}, // fc1
		{197, 384, 1536}, // fc2
		{197, 197, 64},   // Q K^T per head
		{197, 64, 197},   // A V per head
	} {
		shape := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		// GMAC per CPU second moves less with other jobs' load than GMAC/s.
		var cpu0 float64
		start := func(b *testing.B) { b.ResetTimer(); cpu0 = processCPUSeconds() }
		gmac := func(b *testing.B) {
			macs := float64(s.m*s.n*s.k) * float64(b.N) / 1e9
			b.ReportMetric(macs/b.Elapsed().Seconds(), "GMAC/s")
			if cpu := processCPUSeconds() - cpu0; cpu > 0 {
				b.ReportMetric(macs/cpu, "GMAC/cpu-s")
			}
		}
		af, bf, cf := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		b.Run("float/"+shape, func(b *testing.B) {
			start(b)
			for i := 0; i < b.N; i++ {
				MatMul(s.m, s.n, s.k, af, s.k, bf, s.n, cf, s.n, false)
			}
			gmac(b)
		})
		if hasFMA { // the float kernel of CPUs without AVX-512
			b.Run("float_avx2fma/"+shape, func(b *testing.B) {
				start(b)
				for i := 0; i < b.N; i++ {
					matMulFMA(s.m, s.n, s.k, af, s.k, bf, s.n, cf, s.n, false)
				}
				gmac(b)
			})
		}
		var pb PackedInt16
		pb.Pack(randCodes(r, s.k*s.n, 255), s.n, s.k, s.n)
		a := randCodes(r, s.m*pb.KPad, 255)
		ru, cu := make([]float64, s.m), []float64{1.0 / 255}
		for i := range ru {
			ru[i] = 0.01
		}
		for _, set := range intKernelSets() {
			if set.name == "generic" && s.k > 64 {
				continue // slow; one shape shows its rate
			}
			b.Run(set.name+"/"+shape, func(b *testing.B) {
				saved := intKernels
				intKernels = set
				defer func() { intKernels = saved }()
				start(b)
				for i := 0; i < b.N; i++ {
					if err := MatMulInt16(s.m, a, pb.KPad, &pb, cf, s.n, ru, cu, 255); err != nil {
						b.Fatal(err)
					}
				}
				gmac(b)
			})
		}
	}
}
