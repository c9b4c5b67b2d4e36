package state

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// finish leases and completes every shard of sweep id at time now.
func finish(t *testing.T, s *State, id string, now int64) {
	t.Helper()
	sw, _ := s.Sweep(id)
	var as []*cfpb.Assignment
	for k := int32(0); k < sw.Shards; k++ {
		as = append(as, &cfpb.Assignment{SweepId: id, Shard: k, Worker: "w"})
	}
	var rs []*cfpb.ShardResult
	for _, l := range mustApply(t, s, cmd(now, &cfpb.AssignShards{Assignments: as})).Granted {
		rs = append(rs, result(l, "w", 1))
	}
	mustApply(t, s, cmd(now, &cfpb.CompleteShards{Results: rs}))
	if sw, _ := s.Sweep(id); sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.FinishedNs != now {
		t.Fatalf("sweep %s: %v finished at %d, want done at %d", id, sw.State, sw.FinishedNs, now)
	}
}

// A running sweep is not deleted (it must be cancelled first); a finished
// one is, with its shards, from every listing and from the snapshot.
func TestDeleteSweepRemovesOnlyFinishedSweeps(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	mustApply(t, s, cmd(2, &cfpb.SubmitSweep{SweepId: "b", Spec: spec(t, "")}))
	del := func(id string) *Response {
		return s.Apply(cmd(3, &cfpb.Command{Cmd: &cfpb.Command_Delete{Delete: &cfpb.DeleteSweep{SweepId: id}}}))
	}
	if r := del("a"); !errors.Is(r.Err, ErrSweepActive) || r.Err.Error() != "state: sweep not finished: sweep a is running; cancel it before deleting it" {
		t.Fatalf("deleting a running sweep: %v", r.Err)
	}
	if r := del("nope"); !errors.Is(r.Err, ErrUnknownSweep) {
		t.Fatalf("deleting an unknown sweep: %v", r.Err)
	}
	mustApply(t, s, cmd(4, &cfpb.SetSweepState{SweepId: "a", State: cfpb.SweepState_SWEEP_STATE_CANCELLED}))
	if r := del("a"); r.Err != nil || !slices.Equal(r.Deleted, []string{"a"}) {
		t.Fatalf("deleting a cancelled sweep: %+v", r)
	}
	if _, err := s.Sweep("a"); !errors.Is(err, ErrUnknownSweep) {
		t.Fatalf("deleted sweep still described: %v", err)
	}
	if _, err := s.Results("a"); !errors.Is(err, ErrUnknownSweep) {
		t.Fatalf("deleted sweep still has results: %v", err)
	}
	if ids := s.SweepIDs(); !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("sweeps %v, want [b]", ids)
	}
	if r := restored(t, s); !slices.Equal(r.SweepIDs(), []string{"b"}) {
		t.Fatalf("restored sweeps %v, want [b]", r.SweepIDs())
	}
}

// ExpireSweeps deletes the sweeps finished at least the retention period
// before the command's time, and no other; Expired tells the leader which
// those would be, by the same rule.
func TestExpireSweepsDeletesSweepsFinishedBeforeTheRetention(t *testing.T) {
	s := New()
	for _, id := range []string{"old", "cancelled", "new", "running"} {
		mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: id, Spec: spec(t, "")}))
	}
	finish(t, s, "old", 100)
	mustApply(t, s, cmd(150, &cfpb.SetSweepState{SweepId: "cancelled", State: cfpb.SweepState_SWEEP_STATE_CANCELLED}))
	finish(t, s, "new", 200)
	const retention = 100 * time.Nanosecond
	if got := s.Expired(249, retention); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("expired at 249: %v, want [old]", got)
	}
	if got := s.Expired(250, retention); !slices.Equal(got, []string{"old", "cancelled"}) {
		t.Fatalf("expired at 250: %v, want [old cancelled]", got)
	}
	r := mustApply(t, s, cmd(250, &cfpb.Command{NowNs: 250, Cmd: &cfpb.Command_Expire{Expire: &cfpb.ExpireSweeps{RetentionNs: int64(retention)}}}))
	if !slices.Equal(r.Deleted, []string{"old", "cancelled"}) || !slices.Equal(s.SweepIDs(), []string{"running", "new"}) {
		t.Fatalf("deleted %v, left %v; want [old cancelled] deleted, [running new] left", r.Deleted, s.SweepIDs())
	}
	if r := s.Apply(cmd(251, &cfpb.Command{NowNs: 251, Cmd: &cfpb.Command_Expire{Expire: &cfpb.ExpireSweeps{RetentionNs: -1}}})); !errors.Is(r.Err, ErrBadCommand) {
		t.Fatalf("negative retention: %v", r.Err)
	}
}

// A capture is the state at the moment it was taken, whatever Apply does
// while it is written (raft persists concurrently with Apply); run with
// -race, this also checks that writing shares nothing Apply changes.
func TestCaptureIsConsistentWhileApplyGoesOn(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "b", Spec: spec(t, "")}))
	finish(t, s, "b", 2)
	ls := leaseAll(t, s, 3, "w1", 6)
	mustApply(t, s, cmd(4, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: ls[0].Shard, LeaseId: ls[0].LeaseId,
		Reason: cfpb.ReleaseReason_RELEASE_REASON_LOST}}}))
	want := snapBytes(t, s)
	c := s.Capture()
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.WriteTo(&got); err != nil {
			t.Error(err)
		}
	}()
	var rs []*cfpb.ShardResult
	for _, l := range ls[1:] {
		rs = append(rs, result(l, "w1", 4))
	}
	mustApply(t, s, cmd(5, &cfpb.CompleteShards{Results: rs}))
	mustApply(t, s, cmd(6, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(ls[1], "w2", 4)}}))
	l := leaseAll(t, s, 7, "w3", 1)[0]
	mustApply(t, s, cmd(8, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: l.Shard, LeaseId: l.LeaseId,
		Reason: cfpb.ReleaseReason_RELEASE_REASON_LOST}}}))
	mustApply(t, s, cmd(9, &cfpb.Command{Cmd: &cfpb.Command_Delete{Delete: &cfpb.DeleteSweep{SweepId: "b"}}}))
	wg.Wait()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("the capture changed with commands applied after it was taken")
	}
}

// sizeWriter records the largest single write.
type sizeWriter struct{ total, largest int }

func (w *sizeWriter) Write(p []byte) (int, error) {
	w.total += len(p)
	w.largest = max(w.largest, len(p))
	return len(p), nil
}

// A snapshot is written record by record: no write holds more than one
// chunk of shards, however large the state.
func TestSnapshotStreamsInBoundedRecords(t *testing.T) {
	s := New()
	big, err := sweep.Parse("big.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 10000}\ngrid: {gamma: [1, 2]}\nimages_per_shard: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "big", Spec: big}))
	var w sizeWriter
	if _, err := s.Capture().WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	if w.largest > w.total/10 {
		t.Fatalf("largest write %d bytes of %d in all: the snapshot is not streamed", w.largest, w.total)
	}
	var b bytes.Buffer
	s.Capture().WriteTo(&b)
	if r := restored(t, s); !bytes.Equal(snapBytes(t, r), b.Bytes()) {
		t.Fatal("round trip differs")
	}
}
