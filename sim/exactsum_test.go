package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExactSumIsOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	vals := make([]float64, 5000)
	for i := range vals {
		vals[i] = math.Exp(r.NormFloat64()*8) * float64(1-2*(i%2))
	}
	var fwd, rev ExactSum
	for _, v := range vals {
		fwd.Add(v)
	}
	// Reverse order, in uneven shards merged out of order.
	var shards []ExactSum
	for i := len(vals); i > 0; i -= 7 {
		var s ExactSum
		for j := i - 1; j >= max(0, i-7); j-- {
			s.Add(vals[j])
		}
		shards = append(shards, s)
	}
	for i := len(shards) - 1; i >= 0; i-- {
		rev.Merge(shards[i])
	}
	if fwd != rev {
		t.Fatalf("sums differ: %+v vs %+v", fwd, rev)
	}
	var want float64
	for _, v := range vals {
		want += v
	}
	if got := fwd.Float64(); math.Abs(got-want) > 1e-9*math.Abs(want)+1e-12 {
		t.Fatalf("Float64() = %v, float64 sum %v", got, want)
	}
}

func TestExactSumRoundTripsValues(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.5, 1e-12, -3.75e5, 123456789.125, 2e-19} {
		var s ExactSum
		s.Add(v)
		// Values are held to 2^-64 absolute.
		if got := s.Float64(); math.Abs(got-v) > 0x1p-64 {
			t.Errorf("Add(%v).Float64() = %v", v, got)
		}
	}
}
