package state

import (
	"fmt"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Copies of trial 0. In a sweep submitted with copy_deterministic_trials,
// every shard of a later trial of a trial-independent point
// (sweep.Layout.CopyOf, sweep.TrialIndependent) is a copy of the shard of
// trial 0 with the same point and images. Which shards are copies follows
// from the spec and the committed flag alone, so every replica, and every
// restore, agrees. A copy:
//
//   - is never leased (Pick, assign and the fresh cursor pass it over), and
//     a result sent for it is ignored;
//   - waits pending until its source ends; in the same Apply it is then
//     done with the source's record (shared: records never change), or
//     failed with an error naming the source, since computing it would
//     fail the same way; it is cancelled with its sweep like any shard;
//   - counts as a shard everywhere (shard counts, done, progress, quotas:
//     it holds a slot of the shard table and of the results), and is shown
//     as a copy in Progress.copies/copied, PointResult.shards_copied and
//     Shard.copy; it adds no attempts, worker counts, shard durations or
//     images evaluated (Progress.images_copied counts its images instead).

// copyOf reports whether shard k is a copy, and of which shard.
func (sw *sweepState) copyOf(k int) (source int, ok bool) {
	if !sw.copyTrials {
		return 0, false
	}
	return sw.layout.CopyOf(k)
}

func (sw *sweepState) isCopy(k int) bool {
	_, ok := sw.copyOf(k)
	return ok
}

// eachCopy calls f with every copy of shard k (none unless k is a source).
func (sw *sweepState) eachCopy(k int, f func(c int, sh *shard)) {
	if !sw.copyTrials {
		return
	}
	perTrial := len(sw.layout.Points) * sw.layout.Chunks
	for c := k + perTrial; c < len(sw.shards); c += perTrial {
		if src, ok := sw.layout.CopyOf(c); !ok || src != k {
			return
		}
		f(c, &sw.shards[c])
	}
}

// completeCopies records the copies of shard k, just done, as done with its
// result, and returns k followed by them: the shards this completion made
// done, for the adaptive rules (noteDone), which must see them all at once.
func (sw *sweepState) completeCopies(k int, r *Response) []int {
	done := append(sw.doneScratch[:0], k)
	src := &sw.shards[k]
	sw.eachCopy(k, func(c int, sh *shard) {
		if sh.state != cfpb.ShardState_SHARD_STATE_PENDING {
			return
		}
		sw.move(sh, cfpb.ShardState_SHARD_STATE_DONE)
		sh.result = src.result
		sw.copied++
		sw.imagesCopied += src.result.images
		r.Copied++
		done = append(done, c)
	})
	sw.doneScratch = done
	return done
}

// failCopies fails the copies of shard k, just failed for good, and tells
// the adaptive rules of each.
func (sw *sweepState) failCopies(k int, r *Response) {
	src := &sw.shards[k]
	sw.eachCopy(k, func(c int, sh *shard) {
		if sh.state != cfpb.ShardState_SHARD_STATE_PENDING {
			return
		}
		sw.move(sh, cfpb.ShardState_SHARD_STATE_FAILED)
		sh.lastError = copyError(k, src.lastError)
		r.Failed++
		sw.noteFailed(c)
	})
}

func copyError(source int, err string) string {
	return fmt.Sprintf("copy of shard %d (trial 0, the same bits), which failed: %s", source, err)
}

// markCopy marks p, shard k of a sweep laid out by l, as a copy when it is
// one.
func markCopy(p *cfpb.Shard, l *sweep.Layout, copyTrials bool, k int) {
	if !copyTrials {
		return
	}
	if src, ok := l.CopyOf(k); ok {
		p.Copy, p.CopyOf = true, int32(src)
	}
}

// countCopies sets each point's shards_copied from the done copies.
func (sw *sweepState) countCopies(results []*cfpb.PointResult) {
	if sw.copied == 0 {
		return
	}
	for k := len(sw.layout.Points) * sw.layout.Chunks; k < len(sw.shards); k++ {
		if sw.shards[k].state == cfpb.ShardState_SHARD_STATE_DONE && sw.isCopy(k) {
			pt, _ := sw.layout.Unit(k)
			results[pt].ShardsCopied++
		}
	}
}

// addCopy restores shard p when it is a copy, and reports whether it was
// one. A copy's source comes first in shard order, so its record is
// restored already, and the copy shares it.
func (b *sweepBuilder) addCopy(p *cfpb.Shard) (bool, error) {
	sw, k := b.sw, b.k
	src, ok := sw.copyOf(k)
	if p.Copy != ok || ok && int(p.CopyOf) != src {
		return false, fmt.Errorf("%w: sweep %s shard %d: marked copy %v of shard %d; its spec and flag make it copy %v of shard %d",
			ErrSnapshot, sw.id, k, p.Copy, p.CopyOf, ok, src)
	}
	if !ok {
		return false, nil
	}
	if p.Attempt != 0 || p.State == cfpb.ShardState_SHARD_STATE_LEASED {
		return true, fmt.Errorf("%w: sweep %s shard %d: a copy %v after %d attempts; copies are never leased", ErrSnapshot, sw.id, k, p.State, p.Attempt)
	}
	sh := shard{state: p.State, lastError: p.LastError}
	source := &sw.shards[src]
	switch p.State {
	case cfpb.ShardState_SHARD_STATE_DONE:
		if source.state != cfpb.ShardState_SHARD_STATE_DONE || p.Result.GetSummary() == nil || !source.result.sameSummary(p.Result.Summary) {
			return true, fmt.Errorf("%w: sweep %s shard %d: a done copy whose result is not that of its done source, shard %d", ErrSnapshot, sw.id, k, src)
		}
		sh.result = source.result
		sw.copied++
		sw.imagesCopied += sh.result.images
	case cfpb.ShardState_SHARD_STATE_PENDING:
		if source.state == cfpb.ShardState_SHARD_STATE_DONE || source.state == cfpb.ShardState_SHARD_STATE_FAILED {
			return true, fmt.Errorf("%w: sweep %s shard %d: a pending copy of shard %d, which has ended", ErrSnapshot, sw.id, k, src)
		}
	}
	sw.shards[k] = sh
	sw.counts[p.State]++
	b.k++
	return true, nil
}

// setCopyTrials sets the sweep's flag and its count of copies.
func (sw *sweepState) setCopyTrials(on bool) {
	sw.copyTrials = on
	if on {
		sw.copies, _ = sw.layout.Copies()
	}
}
