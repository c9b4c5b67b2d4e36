package state

import (
	"cmp"
	"slices"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Pick chooses shards to lease, one for each entry of slots (a worker id per
// free slot), as of time now: higher priority first; among sweeps of equal
// priority the one with the fewest leased shards (fair sharing); never more
// than a sweep's concurrency cap; retries whose backoff has passed before
// fresh shards; fresh shards in layout order, which interleaves the grid.
// It only reads: the caller proposes the picks as one AssignShards command.
func (s *State) Pick(now int64, slots []string) []*cfpb.Assignment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type cand struct {
		sw      *sweepState
		picked  int
		fresh   int   // local fresh cursor
		retries []int // retries ready now, not yet picked
		wanted  []int // an adaptive sweep's fresh shards: those its rules ask for
	}
	var cands []*cand
	for _, id := range s.order {
		sw := s.sweeps[id]
		if sw.state != cfpb.SweepState_SWEEP_STATE_RUNNING || sw.counts[cfpb.ShardState_SHARD_STATE_PENDING] == 0 {
			continue
		}
		c := &cand{sw: sw, fresh: sw.fresh}
		if sw.adaptive != nil {
			c.wanted, c.fresh = sw.adaptive.wantedFresh(sw), len(sw.shards)
		}
		for _, k := range sw.retry {
			if sw.shards[k].notBefore <= now {
				c.retries = append(c.retries, k)
			}
		}
		cands = append(cands, c)
	}
	// Higher priority first; submission order breaks ties (stable sort).
	slices.SortStableFunc(cands, func(a, b *cand) int { return cmp.Compare(b.sw.spec.Priority, a.sw.spec.Priority) })

	next := func(c *cand) int {
		if len(c.retries) > 0 {
			k := c.retries[0]
			c.retries = c.retries[1:]
			return k
		}
		if len(c.wanted) > 0 {
			k := c.wanted[0]
			c.wanted = c.wanted[1:]
			return k
		}
		for c.fresh < len(c.sw.shards) {
			k := c.fresh
			c.fresh++
			if sh := &c.sw.shards[k]; sh.state == cfpb.ShardState_SHARD_STATE_PENDING && sh.attempt == 0 && !c.sw.isCopy(k) {
				return k
			}
		}
		return -1
	}
	open := func(c *cand) bool {
		if limit := c.sw.spec.MaxConcurrentShards; limit > 0 &&
			c.sw.counts[cfpb.ShardState_SHARD_STATE_LEASED]+int64(c.picked) >= int64(limit) {
			return false
		}
		return len(c.retries) > 0 || len(c.wanted) > 0 || c.fresh < len(c.sw.shards)
	}
	choose := func() *cand {
		var best *cand
		for _, c := range cands {
			if best != nil && c.sw.spec.Priority < best.sw.spec.Priority {
				break // a lower priority runs only when higher ones have nothing
			}
			if !open(c) {
				continue
			}
			if best == nil || c.sw.counts[cfpb.ShardState_SHARD_STATE_LEASED]+int64(c.picked) <
				best.sw.counts[cfpb.ShardState_SHARD_STATE_LEASED]+int64(best.picked) {
				best = c
			}
		}
		return best
	}
	var out []*cfpb.Assignment
	for _, worker := range slots {
		for {
			best := choose()
			if best == nil {
				return out
			}
			// next fails only when the fresh cursor runs out, after which
			// open(best) is false: the loop ends.
			if k := next(best); k >= 0 {
				best.picked++
				out = append(out, &cfpb.Assignment{SweepId: best.sw.id, Shard: int32(k), Worker: worker})
				break
			}
		}
	}
	return out
}
