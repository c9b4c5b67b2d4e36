package state

import (
	"strings"
	"testing"
	"time"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// The histogram's median is the lower bound of a quarter-octave bucket:
// within 2^(-1/4), about 16 %, below the true median.
func TestDurationMedianIsWithinAQuarterOctave(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"one", []time.Duration{3 * time.Second}, 3 * time.Second},
		{"odd", []time.Duration{time.Second, 90 * time.Second, 7 * time.Second}, 7 * time.Second},
		{"skewed", []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Hour}, time.Millisecond},
		// Under 4 ns (a fake worker's zero) all share the first bucket.
		{"zero", []time.Duration{0, 1, 2}, 0},
	} {
		var d durations
		for _, x := range c.in {
			d.add(int64(x))
		}
		got := d.median()
		if got > c.want || float64(got) < 0.84*float64(c.want) {
			t.Errorf("%s: median %v, want within [0.84, 1] x %v", c.name, got, c.want)
		}
	}
	var d durations
	if d.median() >= 0 {
		t.Error("an empty histogram has a median")
	}
}

// A lease whose images-done count has not moved for Factor times the
// sweep's expected shard time is revoked with an error that says so; the
// revocation counts as a failed attempt.
func TestStalledLeaseIsRevokedAfterTenTimesTheMedianShardTime(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	p := StallPolicy{Factor: 10, Floor: time.Second, Ceiling: time.Minute}
	ls := leaseAll(t, s, 2, "w1", 4)
	// Before any shard is done the ceiling applies: 10 minutes.
	if rel := s.Stalled(ls[3], 0, 0, int64(9*time.Minute), p); rel != nil {
		t.Fatalf("revoked after 9 min with no shard done: %v", rel)
	}
	if rel := s.Stalled(ls[3], 0, 0, int64(11*time.Minute), p); rel == nil {
		t.Fatal("not revoked after 11 min with no shard done")
	}
	var done []*cfpb.ShardResult
	for i, d := range []time.Duration{2 * time.Second, 2 * time.Second, 50 * time.Second} {
		r := result(ls[i], "w1", 5)
		r.DurationNs = int64(d)
		done = append(done, r)
	}
	mustApply(t, s, cmd(3, &cfpb.CompleteShards{Results: done}))
	exp, n, err := s.ExpectedShardTime("a", p)
	if err != nil || n != 3 || exp > 2*time.Second || exp < 1680*time.Millisecond {
		t.Fatalf("expected shard time %v from %d shards (%v); want about 2 s from 3", exp, n, err)
	}
	stuck := ls[3]
	since := int64(100 * time.Second)
	if rel := s.Stalled(stuck, 4, since, since+int64(10*exp), p); rel != nil {
		t.Fatalf("revoked at exactly the limit: %v", rel)
	}
	rel := s.Stalled(stuck, 4, since, since+int64(10*exp)+1, p)
	if rel == nil || rel.Reason != cfpb.ReleaseReason_RELEASE_REASON_STALLED || !strings.Contains(rel.Error, "no progress for") ||
		!strings.Contains(rel.Error, "10 x the sweep's expected shard time") || !strings.Contains(rel.Error, "4 images done") {
		t.Fatalf("release %v", rel)
	}
	// A replica restored from a snapshot reaches the same decision.
	r2 := restored(t, s)
	if got := r2.Stalled(stuck, 4, since, since+int64(10*exp)+1, p); got == nil || got.Error != rel.Error {
		t.Fatalf("restored replica: %v, want %v", got, rel)
	}
	rel.BackoffUntilNs = 7
	mustApply(t, s, cmd(4, &cfpb.ReleaseShards{Releases: []*cfpb.Release{rel}}))
	sh, _ := s.Shard("a", stuck.Shard)
	if sh.State != cfpb.ShardState_SHARD_STATE_PENDING || sh.Failures != 1 || sh.LastError != rel.Error || sh.NotBeforeNs != 7 {
		t.Fatalf("revoked shard %v: want pending with 1 failure and the stall error", sh)
	}
	// The lease is gone: asking again revokes nothing.
	if again := s.Stalled(stuck, 4, since, since+int64(time.Hour), p); again != nil {
		t.Fatalf("a revoked lease revoked again: %v", again)
	}
}
