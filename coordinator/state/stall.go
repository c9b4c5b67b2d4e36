package state

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Defaults of StallPolicy.
const (
	DefaultStallFactor  = 10
	DefaultStallFloor   = 30 * time.Second
	DefaultStallCeiling = 10 * time.Minute
)

// StallPolicy says when the leader revokes a lease whose worker heartbeats
// but whose images-done count has stopped moving: after Factor times the
// sweep's expected shard time, which is the median simulator time of its
// done shards held within [Floor, Ceiling] (the Ceiling while none is done,
// a Floor so that shards faster than the heartbeat never look stuck).
// Zero fields take the defaults.
type StallPolicy struct {
	Factor         int
	Floor, Ceiling time.Duration
}

func (p StallPolicy) withDefaults() StallPolicy {
	if p.Factor <= 0 {
		p.Factor = DefaultStallFactor
	}
	if p.Floor <= 0 {
		p.Floor = DefaultStallFloor
	}
	if p.Ceiling <= 0 {
		p.Ceiling = DefaultStallCeiling
	}
	p.Ceiling = max(p.Ceiling, p.Floor)
	return p
}

// durations is a histogram of done shards' simulator times in quarter
// octaves of nanoseconds: bucket 4e+m holds [(4+m)<<(e-2), (5+m)<<(e-2)).
// It is rebuilt from the results on restore, so every replica holds the
// same one, and it gives the median in constant time and memory whatever
// the sweep's size.
type durations struct {
	n       int64
	buckets [4 * 64]int64
}

func durationBucket(ns int64) int {
	if ns < 4 {
		return 0
	}
	e := bits.Len64(uint64(ns)) - 1
	m := int(uint64(ns)>>(e-2)) & 3
	return 4*e + m
}

func (d *durations) add(ns int64) {
	d.n++
	d.buckets[durationBucket(ns)]++
}

// median is the lower bound of the bucket holding the middle duration, or
// -1 when there is none.
func (d *durations) median() time.Duration {
	if d.n == 0 {
		return -1
	}
	var seen int64
	for b, c := range d.buckets {
		seen += c
		if 2*seen >= d.n {
			e, m := b/4, b%4
			if e < 2 {
				return time.Duration(b)
			}
			return time.Duration(int64(4+m) << (e - 2))
		}
	}
	return -1 // not reached: the buckets add up to n
}

// ExpectedShardTime is the sweep's expected shard time under policy p (see
// StallPolicy) and the number of done shards it is drawn from.
func (s *State) ExpectedShardTime(sweepID string, p StallPolicy) (time.Duration, int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, ok := s.sweeps[sweepID]
	if !ok {
		return 0, 0, fmt.Errorf("%w %q", ErrUnknownSweep, sweepID)
	}
	d, n := sw.expected(p.withDefaults())
	return d, n, nil
}

func (sw *sweepState) expected(p StallPolicy) (time.Duration, int64) {
	m := sw.durations.median()
	if m < 0 {
		return p.Ceiling, 0
	}
	return min(max(m, p.Floor), p.Ceiling), sw.durations.n
}

// Stalled returns the release that revokes lease ref when its images-done
// count has not moved since sinceNs (the leader's clock when the count
// last changed, or when the lease was granted) for longer than the policy
// allows at nowNs; nil while it may still run, or when ref is no longer
// the shard's lease. The release carries reason STALLED and an error that
// says why; the leader sets its backoff and proposes it with the other
// releases of its reaper. It reads only: the leader calls it for the
// leases it tracks in memory, as heartbeats arrive from outside the log.
func (s *State) Stalled(ref *cfpb.LeaseRef, imagesDone int32, sinceNs, nowNs int64, p StallPolicy) *cfpb.Release {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, sh := s.shardOf(ref.GetSweepId(), ref.GetShard())
	if sh == nil || sh.state != cfpb.ShardState_SHARD_STATE_LEASED || sh.leaseID != ref.GetLeaseId() {
		return nil
	}
	p = p.withDefaults()
	exp, n := sw.expected(p)
	limit := time.Duration(p.Factor) * exp
	idle := time.Duration(nowNs - sinceNs)
	if idle <= limit {
		return nil
	}
	basis := fmt.Sprintf("the median of %d done shards", n)
	if n == 0 {
		basis = "no shard done yet"
	}
	return &cfpb.Release{SweepId: ref.SweepId, Shard: ref.Shard, LeaseId: ref.LeaseId, Reason: cfpb.ReleaseReason_RELEASE_REASON_STALLED,
		Error: fmt.Sprintf("stuck: worker %s reported %d images done and no progress for %v, over %d x the sweep's expected shard time of %v (%s); lease revoked",
			sh.worker, imagesDone, idle.Round(time.Second), p.Factor, exp, basis)}
}
