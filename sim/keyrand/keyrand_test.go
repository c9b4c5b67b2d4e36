package keyrand

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSameKeySameBits(t *testing.T) {
	k := Key{Seed: 7, Trial: 1, Image: 42, Layer: 3, Head: 2, Kind: WriteK}
	a, b := New(k), New(k)
	for i := 0; i < 1000; i++ {
		if x, y := a.Norm(), b.Norm(); x != y {
			t.Fatalf("draw %d: got %v and %v from the same key", i, x, y)
		}
	}
	a.Reset(k)
	c := New(k)
	if x, y := a.Norm(), c.Norm(); x != y {
		t.Fatalf("after Reset: got %v, want %v", x, y)
	}
}

func TestEveryKeyFieldChangesTheStream(t *testing.T) {
	base := Key{Seed: 7, Trial: 1, Image: 42, Layer: 3, Head: 2, Sub: 0, Kind: WriteK}
	variants := []Key{base, base, base, base, base, base, base}
	variants[0].Seed++
	variants[1].Trial++
	variants[2].Image++
	variants[3].Layer++
	variants[4].Head++
	variants[5].Sub++
	variants[6].Kind = WriteV
	want := New(base).Norm()
	for i, k := range variants {
		if got := New(k).Norm(); got == want {
			t.Errorf("variant %d (%+v) gives the base key's first draw %v", i, k, got)
		}
	}
}

// The xoshiro256** reference output: the published first values for the
// state {1, 2, 3, 4}.
func TestXoshiroReferenceOutput(t *testing.T) {
	s := &Stream{1, 2, 3, 4}
	want := []uint64{11520, 0, 1509978240, 1215971899390074240}
	for i, w := range want {
		if got := s.Uint64(); got != w {
			t.Fatalf("output %d: got %d want %d", i, got, w)
		}
	}
}

// Norm draws a standard normal: mean 0, variance 1, and the tail mass of a
// Gaussian, within sampling error.
func TestNormIsStandardNormal(t *testing.T) {
	s := New(Key{Seed: 5})
	const n = 400000
	var m, v float64
	tail := 0
	for i := 0; i < n; i++ {
		x := s.Norm()
		m += x
		v += x * x
		if x > 2 || x < -2 {
			tail++
		}
	}
	m /= n
	v = v/n - m*m
	p := float64(tail) / n
	// 5 standard errors: sqrt(1/n), sqrt(2/n), and the binomial error of P(|x|>2) = 0.0455.
	if math.Abs(m) > 5*math.Sqrt(1.0/n) || math.Abs(v-1) > 5*math.Sqrt(2.0/n) || math.Abs(p-0.0455) > 5*math.Sqrt(0.0455*0.9545/n) {
		t.Fatalf("mean %v variance %v P(|x|>2) %v", m, v, p)
	}
	u := 0.0
	for i := 0; i < n; i++ {
		u += s.Float64()
	}
	if u /= n; math.Abs(u-0.5) > 5*math.Sqrt(1.0/12/n) {
		t.Fatalf("uniform mean %v", u)
	}
}

func BenchmarkNorm(b *testing.B) {
	s := New(Key{})
	var x float64
	for i := 0; i < b.N; i++ {
		x += s.Norm()
	}
	_ = x
}

// BenchmarkNormMathRand is math/rand/v2's ChaCha8 generator with its
// NormFloat64, for comparison with Stream.Norm.
func BenchmarkNormMathRand(b *testing.B) {
	r := rand.New(rand.NewChaCha8([32]byte{}))
	var x float64
	for i := 0; i < b.N; i++ {
		x += r.NormFloat64()
	}
	_ = x
}
