package tally

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSumIsOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	vals := make([]float64, 5000)
	for i := range vals {
		vals[i] = math.Exp(r.NormFloat64()*8) * float64(1-2*(i%2))
	}
	var fwd, rev Sum
	for _, v := range vals {
		fwd.Add(v)
	}
	// Reverse order, in uneven shards merged out of order.
	var shards []Sum
	for i := len(vals); i > 0; i -= 7 {
		var s Sum
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

func TestSumRoundTripsValues(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.5, 1e-12, -3.75e5, 123456789.125, 2e-19} {
		var s Sum
		s.Add(v)
		// Values are held to 2^-64 absolute.
		if got := s.Float64(); math.Abs(got-v) > 0x1p-64 {
			t.Errorf("Add(%v).Float64() = %v", v, got)
		}
	}
}

func TestSummaryMergeIsOrderIndependentAndGrowsBlocks(t *testing.T) {
	sum := func(v float64) Sum { var s Sum; s.Add(v); return s }
	parts := []Summary{
		{Images: 10, Correct: 7},
		{Images: 5, Correct: 5, Signal: []Sum{sum(1.5), sum(2)}, Noise: []Sum{sum(0.25), sum(-1)}},
		{Images: 3, Correct: 1, Signal: []Sum{sum(3)}, Noise: []Sum{sum(0.5)}},
	}
	var fwd, rev Summary
	for i := range parts {
		fwd.Merge(parts[i])
		rev.Merge(parts[len(parts)-1-i])
	}
	if fwd.Images != 18 || fwd.Correct != 13 || len(fwd.Signal) != 2 || len(fwd.Noise) != 2 {
		t.Fatalf("merged %+v, want 18 images, 13 correct, 2 blocks", fwd)
	}
	for b := range fwd.Signal {
		if fwd.Signal[b] != rev.Signal[b] || fwd.Noise[b] != rev.Noise[b] {
			t.Fatalf("block %d differs by merge order: %+v vs %+v", b, fwd, rev)
		}
	}
	if got := fwd.Signal[0].Float64(); got != 4.5 {
		t.Fatalf("block 0 signal %v, want 4.5", got)
	}
}
