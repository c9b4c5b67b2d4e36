package coordinator

import (
	"fmt"
	"time"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// How leases end, on the leader: results and failures reported by workers
// go through the batcher (batch, commit), many per raft entry; leases whose
// deadline passed go through the reaper (reap). Both end a lease with the
// Release that release builds, and propose only the commands built below.

// assignCommand grants leases to workers.
func assignCommand(now time.Time, picks []*cfpb.Assignment) *cfpb.Command {
	return &cfpb.Command{NowNs: now.UnixNano(), Cmd: &cfpb.Command_Assign{Assign: &cfpb.AssignShards{Assignments: picks}}}
}

// completeCommand records results and failure reports in one entry; the
// state machine applies each item on its own, so a bad one never holds
// back the others.
func completeCommand(now time.Time, results []*cfpb.ShardResult, failures []*cfpb.Release) *cfpb.Command {
	return &cfpb.Command{NowNs: now.UnixNano(), Cmd: &cfpb.Command_Complete{Complete: &cfpb.CompleteShards{Results: results, Failures: failures}}}
}

// releaseCommand ends leases.
func releaseCommand(now time.Time, rels []*cfpb.Release) *cfpb.Command {
	return &cfpb.Command{NowNs: now.UnixNano(), Cmd: &cfpb.Command_Release{Release: &cfpb.ReleaseShards{Releases: rels}}}
}

// release builds the end of one lease. A counted end (an error, an expiry)
// holds the shard back for the backoff of its next attempt; nil means the
// shard is unknown (a sweep id a worker made up).
func (lr *leaderRole) release(ref *cfpb.LeaseRef, reason cfpb.ReleaseReason, msg string, now time.Time) *cfpb.Release {
	sh, err := lr.n.st.Shard(ref.GetSweepId(), ref.GetShard())
	if err != nil {
		return nil
	}
	rel := &cfpb.Release{SweepId: ref.SweepId, Shard: ref.Shard, LeaseId: ref.LeaseId, Reason: reason, Error: msg}
	if counted(reason) {
		rel.BackoffUntilNs = now.Add(lr.backoff(sh.Failures + 1)).UnixNano()
	}
	return rel
}

// counted reports whether a lease's end counts as a failed attempt.
func counted(reason cfpb.ReleaseReason) bool {
	switch reason {
	case cfpb.ReleaseReason_RELEASE_REASON_ERROR, cfpb.ReleaseReason_RELEASE_REASON_EXPIRED, cfpb.ReleaseReason_RELEASE_REASON_STALLED:
		return true
	}
	return false
}

// backoff is the delay before the attempt after the given number of
// counted failures: base, 2 base, 4 base ... at most 30 s.
func (lr *leaderRole) backoff(failures int32) time.Duration {
	d := lr.n.cfg.BackoffBase
	for i := int32(1); i < failures && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// batch turns worker results and failures into raft commands, many per
// entry, and acknowledges each result after its commit.
func (lr *leaderRole) batch() {
	defer lr.wg.Done()
	for {
		select {
		case <-lr.ctx.Done():
			return
		case ev := <-lr.inbox:
			lr.commit(lr.drainInbox(ev))
		}
	}
}

// drainInbox returns first and whatever else is queued, up to a batch.
func (lr *leaderRole) drainInbox(first workerEvent) []workerEvent {
	const maxBatch = 4096
	evs := []workerEvent{first}
	for len(evs) < maxBatch {
		select {
		case ev := <-lr.inbox:
			evs = append(evs, ev)
		default:
			return evs
		}
	}
	return evs
}

// commit proposes one batch, its results and failures in one command, then
// tells the workers what committed and forgets the ended leases. A batch
// that did not commit is not acknowledged at all: its workers keep every
// report, failures as results, and send them again.
func (lr *leaderRole) commit(evs []workerEvent) {
	now := time.Now()
	var results []*cfpb.ShardResult
	var releases []*cfpb.Release
	for i := range evs {
		evs[i] = lr.refuseMalformed(evs[i])
		if r := evs[i].result; r != nil {
			if evs[i].stale = !lr.owns(r); !evs[i].stale {
				results = append(results, r)
			}
		} else if rel := lr.release(evs[i].failure.Lease, cfpb.ReleaseReason_RELEASE_REASON_ERROR, evs[i].failure.Error, now); rel != nil {
			releases = append(releases, rel)
		}
	}
	committed := lr.propose(completeCommand(now, results, releases), len(results)+len(releases), "complete")
	lr.settle(evs, committed, now)
	lr.poke()
}

// propose applies a command of n items (none: nothing to do) and reports
// whether it committed. One that did not is not acknowledged: the workers
// keep its reports and send them again, and its leases stay to expire.
func (lr *leaderRole) propose(c *cfpb.Command, n int, what string) bool {
	if n == 0 {
		return true
	}
	var err error
	if lr.failProposal != nil {
		err = lr.failProposal(c)
	}
	if err == nil {
		_, err = lr.n.Apply(c)
	}
	if err != nil {
		lr.n.log.Warn(what, "items", n, "err", err)
		return false
	}
	return true
}

// refuseMalformed turns a result whose summary does not fit its shard into
// a failure of its lease: refused before raft sees it, and counted as a
// failed attempt.
func (lr *leaderRole) refuseMalformed(ev workerEvent) workerEvent {
	r := ev.result
	if r == nil {
		return ev
	}
	err := lr.checkResult(r)
	if err == nil {
		return ev
	}
	lr.n.log.Warn("malformed result", "worker", ev.sess.worker, "sweep", r.SweepId, "shard", r.Shard, "err", err)
	return workerEvent{sess: ev.sess, failure: &cfpb.ShardFailure{
		Lease: &cfpb.LeaseRef{SweepId: r.SweepId, Shard: r.Shard, LeaseId: r.LeaseId, Attempt: r.Attempt},
		Error: fmt.Sprintf("malformed result from worker %s: %v", ev.sess.worker, err)}}
}

// owns reports whether a result comes from the worker that holds the
// shard's lease, or whose expired lease was the shard's last: a result
// from anyone else (an earlier holder after reassignment, a worker that
// never held it) is refused, whatever its numbers.
func (lr *leaderRole) owns(r *cfpb.ShardResult) bool {
	sh, err := lr.n.st.Shard(r.SweepId, r.Shard)
	if err != nil {
		return true // an unknown shard: the state machine ignores it
	}
	if sh.Worker != r.Worker || sh.LeaseId != r.LeaseId {
		lr.n.log.Warn("result refused: not from the shard's last lease", "worker", r.Worker, "sweep", r.SweepId, "shard", r.Shard,
			"lease", r.LeaseId, "last_lease", sh.LeaseId, "last_worker", sh.Worker)
		return false
	}
	return true
}

// checkResult reports a result whose summary does not fit its shard.
func (lr *leaderRole) checkResult(r *cfpb.ShardResult) error {
	w, _, err := lr.n.st.Work(r.SweepId, r.Shard)
	if err != nil {
		return nil // an unknown shard: the state machine ignores it
	}
	return sweep.CheckSummary(r.Summary, int(w.Count))
}

// settle acknowledges every report of a committed batch (a malformed
// result and a failure for an unknown shard included, so that the worker
// stops sending them) and forgets the leases the batch ended; a result
// from an earlier lease stops the current holder.
func (lr *leaderRole) settle(evs []workerEvent, committed bool, now time.Time) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, ev := range evs {
		ref, isResult := ev.lease()
		if ev.stale {
			// Refused for good: the worker may drop it.
			ev.sess.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Ack{Ack: ref}})
			continue
		}
		if !committed {
			continue
		}
		ev.sess.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Ack{Ack: ref}})
		k := leaseKey{ref.SweepId, ref.Shard}
		l, ok := lr.leases[k]
		if !ok {
			continue
		}
		if isResult {
			// Counted once per leased shard: not for duplicates, nor for
			// sweep ids a worker made up.
			lr.rateOf(ref.SweepId).add(now)
			ev.sess.images.addN(now, ev.result.GetSummary().GetImages())
			if l.ref.LeaseId != ref.LeaseId && l.sess != nil {
				l.sess.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Cancel{Cancel: l.ref}})
			}
		}
		if isResult || l.ref.LeaseId == ref.LeaseId {
			delete(lr.leases, k)
		}
	}
}

// reap ends leases whose deadline passed: expired (counted) when the worker
// is connected but silent, lost (not counted) when its connection is gone;
// and leases whose progress stalled (counted), although heartbeats renew
// them.
func (lr *leaderRole) reap() {
	defer lr.wg.Done()
	tick := time.NewTicker(min(lr.n.cfg.LeaseTTL/4, 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-lr.ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		rels, removed := lr.takeExpired(now)
		if len(rels) == 0 {
			continue
		}
		if _, err := lr.n.Apply(releaseCommand(now, rels)); err != nil {
			// Not committed: put the leases back, already expired, so the
			// next tick tries again rather than leaving them leased forever.
			lr.n.log.Warn("release expired and stalled leases", "err", err)
			lr.restore(removed)
		}
		lr.poke()
	}
}

// takeExpired removes the leases past their deadline, and those stalled,
// and returns their releases; a connected holder is told to stop.
func (lr *leaderRole) takeExpired(now time.Time) ([]*cfpb.Release, map[leaseKey]*lease) {
	var rels []*cfpb.Release
	removed := map[leaseKey]*lease{}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for k, l := range lr.leases {
		if now.Before(l.deadline) {
			if rel := lr.stalled(l, now); rel != nil {
				rels = append(rels, rel)
				removed[k] = l
				delete(lr.leases, k)
			}
			continue
		}
		reason := cfpb.ReleaseReason_RELEASE_REASON_LOST
		if l.sess != nil && l.sess.isOpen() {
			reason = cfpb.ReleaseReason_RELEASE_REASON_EXPIRED
			l.sess.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Cancel{Cancel: l.ref}})
			lr.n.Metrics.leasesExpired.Inc()
		}
		if rel := lr.release(l.ref, reason, "", now); rel != nil {
			rels = append(rels, rel)
		}
		removed[k] = l
		delete(lr.leases, k)
	}
	return rels, removed
}

// stalled returns the release of a live lease whose images-done count has
// stood still too long (see state.Stalled), with its backoff, and tells
// its worker to stop; nil while it may run on. Called with lr.mu held.
func (lr *leaderRole) stalled(l *lease, now time.Time) *cfpb.Release {
	stall := lr.n.st.Stalled(l.ref, l.images, l.moved.UnixNano(), now.UnixNano(), lr.n.cfg.Stall)
	if stall == nil {
		return nil
	}
	rel := lr.release(l.ref, stall.Reason, stall.Error, now)
	if rel == nil {
		return nil
	}
	lr.n.log.Warn("lease revoked: no progress", "worker", l.worker, "sweep", rel.SweepId, "shard", rel.Shard, "err", rel.Error)
	if l.sess != nil {
		l.sess.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Cancel{Cancel: l.ref}})
	}
	lr.n.Metrics.leasesStalled.Inc()
	return rel
}

// restore puts back leases whose release did not commit.
func (lr *leaderRole) restore(removed map[leaseKey]*lease) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for k, l := range removed {
		if _, ok := lr.leases[k]; !ok {
			lr.leases[k] = l
		}
	}
}
