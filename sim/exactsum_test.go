package sim

import (
	"testing"

	"github.com/clipformer/clipformer/internal/tally"
)

// TestResultMergeAgreesWithTally holds the simulator's merge of results to
// the coordinator's merge of summaries: both must give the same bits.
func TestResultMergeAgreesWithTally(t *testing.T) {
	var a, b ExactSum
	a.Add(1e-9)
	b.Add(-3.25)
	parts := []*Result{
		{Images: 4, Correct: 3},
		{Images: 2, Correct: 1, Signal: []ExactSum{a, b}, Noise: []ExactSum{b, a}},
		{Images: 1, Correct: 1, Signal: []ExactSum{b}, Noise: []ExactSum{a}},
	}
	var r Result
	var s tally.Summary
	for _, p := range parts {
		r.Merge(p)
		s.Merge(tally.Summary{Images: int64(p.Images), Correct: int64(p.Correct), Signal: p.Signal, Noise: p.Noise})
	}
	if int64(r.Images) != s.Images || int64(r.Correct) != s.Correct || len(r.Signal) != len(s.Signal) {
		t.Fatalf("result %+v, summary %+v", r, s)
	}
	for i := range r.Signal {
		if r.Signal[i] != s.Signal[i] || r.Noise[i] != s.Noise[i] {
			t.Fatalf("block %d: result %v %v, summary %v %v", i, r.Signal[i], r.Noise[i], s.Signal[i], s.Noise[i])
		}
	}
}
