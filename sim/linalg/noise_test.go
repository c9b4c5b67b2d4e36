package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// AddNoise gives the same bits on every kernel level and every length (the
// kernel's blocks of 8 and the Go tail), and adds s sqrt(v) eps.
func TestAddNoiseGivesTheSameBitsOnEveryLevel(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 197, 1000} {
		y, v, eps := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range y {
			y[i] = float32(r.NormFloat64())
			v[i] = float32(r.Float64() * math.Pow(2, float64(r.IntN(30)-15)))
			eps[i] = float32(r.NormFloat64())
		}
		want := append([]float32(nil), y...)
		addNoiseGo(want, v, eps, 0.05)
		for i := range want {
			exact := float64(y[i]) + 0.05*math.Sqrt(float64(v[i]))*float64(eps[i])
			if d := math.Abs(float64(want[i]) - exact); d > 1e-6*math.Max(1, math.Abs(exact)) {
				t.Fatalf("n %d, element %d: %g, exact %g", n, i, want[i], exact)
			}
		}
		for _, l := range Available() {
			restore, _ := UseKernels(l)
			got := append([]float32(nil), y...)
			AddNoise(got, v, eps, 0.05)
			restore()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n %d, level %s, element %d: %g, Go %g", n, l, i, got[i], want[i])
				}
			}
		}
	}
}
