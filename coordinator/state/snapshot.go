package state

import (
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Snapshot captures the whole state as a versioned protobuf message.
func (s *State) Snapshot() *cfpb.Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := &cfpb.Snapshot{Version: SnapshotVersion, NextLeaseId: s.nextLease}
	for _, id := range s.order {
		sw := s.sweeps[id]
		rec := &cfpb.SweepRecord{Id: id, Spec: sw.spec, State: sw.state, SubmittedNs: sw.submitted,
			FinishedNs: sw.finished, Alarms: sw.alarms, Shards: make([]*cfpb.Shard, len(sw.shards))}
		for k := range sw.shards {
			rec.Shards[k] = sw.shardProto(k)
		}
		snap.Sweeps = append(snap.Sweeps, rec)
	}
	for _, w := range s.workers {
		snap.Workers = append(snap.Workers, proto.Clone(w).(*cfpb.WorkerRecord))
	}
	sort.Slice(snap.Workers, func(i, j int) bool { return snap.Workers[i].Id < snap.Workers[j].Id })
	for _, c := range s.coordinators {
		snap.Coordinators = append(snap.Coordinators, proto.Clone(c).(*cfpb.SetCoordinator))
	}
	sort.Slice(snap.Coordinators, func(i, j int) bool { return snap.Coordinators[i].Id < snap.Coordinators[j].Id })
	return snap
}

// Restore replaces the state with a snapshot's. The state is unchanged when
// the snapshot cannot be used.
func (s *State) Restore(snap *cfpb.Snapshot) error {
	if v := snap.GetVersion(); v < 1 || v > SnapshotVersion {
		return fmt.Errorf("state: snapshot format version %d, this coordinator reads 1 to %d", v, SnapshotVersion)
	}
	n := New()
	n.nextLease = snap.NextLeaseId
	for _, rec := range snap.Sweeps {
		if rec.GetId() == "" || n.sweeps[rec.Id] != nil {
			return fmt.Errorf("state: snapshot: empty or repeated sweep id %q", rec.GetId())
		}
		layout, err := sweep.NewLayout(rec.Spec)
		if err != nil {
			return fmt.Errorf("state: snapshot: sweep %s: %w", rec.Id, err)
		}
		if len(rec.Shards) != layout.Shards() {
			return fmt.Errorf("state: snapshot: sweep %s has %d shards, its spec lays out %d", rec.Id, len(rec.Shards), layout.Shards())
		}
		sw := &sweepState{id: rec.Id, spec: rec.Spec, layout: layout, state: rec.State, submitted: rec.SubmittedNs,
			finished: rec.FinishedNs, alarms: rec.Alarms, shards: make([]shard, len(rec.Shards))}
		for k, p := range rec.Shards {
			if p.State < cfpb.ShardState_SHARD_STATE_PENDING || p.State > cfpb.ShardState_SHARD_STATE_CANCELLED {
				return fmt.Errorf("state: snapshot: sweep %s shard %d: state %v", rec.Id, k, p.State)
			}
			sw.shards[k] = shard{state: p.State, attempt: p.Attempt, failures: p.Failures, leaseID: p.LeaseId,
				worker: p.Worker, notBefore: p.NotBeforeNs, lastError: p.LastError, result: p.Result, completions: p.Completions}
			sw.counts[p.State]++
			sw.attempts += int64(p.Attempt)
			if p.Completions > 1 {
				sw.duplicates += int64(p.Completions - 1)
				sw.recomputed++
			}
			if p.State == cfpb.ShardState_SHARD_STATE_DONE {
				if p.Result.GetSummary() == nil {
					return fmt.Errorf("state: snapshot: sweep %s shard %d is done without a result", rec.Id, k)
				}
				sw.images += p.Result.Summary.Images
				sw.durations.add(p.Result.DurationNs)
				// Snapshots older than the completion count hold 0.
				sw.shards[k].completions = max(p.Completions, 1)
			}
			if p.State == cfpb.ShardState_SHARD_STATE_PENDING && p.Attempt > 0 {
				sw.retry = append(sw.retry, k)
			}
			if p.LastError != "" {
				sw.noteError(k, p.LastError)
			}
			if p.Losses > 0 || len(p.LostOn) > 0 {
				if sw.losses == nil {
					sw.losses = map[int]*loss{}
				}
				sw.losses[k] = &loss{count: p.Losses, workers: slices.Clone(p.LostOn)}
			}
		}
		// Retries in release order are not recorded; shard order is as fair.
		sw.advanceFresh()
		n.sweeps[rec.Id] = sw
		n.order = append(n.order, rec.Id)
	}
	for _, w := range snap.Workers {
		n.workers[w.Id] = proto.Clone(w).(*cfpb.WorkerRecord)
	}
	for _, c := range snap.Coordinators {
		n.coordinators[c.Id] = proto.Clone(c).(*cfpb.SetCoordinator)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps, s.order, s.workers, s.coordinators, s.nextLease = n.sweeps, n.order, n.workers, n.coordinators, n.nextLease
	return nil
}
