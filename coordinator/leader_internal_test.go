package coordinator

import (
	"context"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// singleNode is a one-coordinator cluster in memory, leading.
func singleNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	_, tr := raft.NewInmemTransport("raft-solo")
	cfg.ID, cfg.Transport, cfg.InMemory, cfg.Fast, cfg.Embedded, cfg.RaftLog = "solo", tr, true, true, true, io.Discard
	cfg.Peers = []Peer{{ID: "solo", Raft: "raft-solo", GRPC: "127.0.0.1:1"}}
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n.leaderRole() == nil {
		if ctx.Err() != nil {
			t.Fatal("the single node did not take up leadership")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return n
}

// leaseShards submits a sweep of count one-image shards and leases them
// all to worker.
func leaseShards(t *testing.T, n *Node, worker string, count int) []*cfpb.LeaseRef {
	t.Helper()
	spec, err := sweep.Parse("t.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: "+strconv.Itoa(count)+"}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	sweep.ApplyDefaults(spec)
	if _, err := n.Apply(&cfpb.Command{Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{SweepId: "s", Spec: spec}}}); err != nil {
		t.Fatal(err)
	}
	var as []*cfpb.Assignment
	for k := 0; k < count; k++ {
		as = append(as, &cfpb.Assignment{SweepId: "s", Shard: int32(k), Worker: worker})
	}
	r, err := n.Apply(&cfpb.Command{Cmd: &cfpb.Command_Assign{Assign: &cfpb.AssignShards{Assignments: as}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Granted) != count {
		t.Fatalf("granted %d leases, want %d", len(r.Granted), count)
	}
	return r.Granted
}

// A worker that connects while a coordinator takes up leadership must see
// the whole leader: its leases loaded before the role is published. Under
// -race this test reports the data race of a role published half-built.
func TestWorkerConnectingDuringTakeoverSeesTheWholeLeader(t *testing.T) {
	n := singleNode(t, Config{LeaseTTL: time.Minute})
	held := leaseShards(t, n, "w", 64)
	n.setLeader(true) // a role that knows the leases, granted behind the scheduler's back
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the worker, reconnecting as fast as it can
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			lr := n.leaderRole()
			if lr == nil {
				continue
			}
			s, dropped, err := lr.open(&cfpb.Hello{WorkerId: "w", Slots: 1, Held: held})
			if err != nil {
				continue
			}
			lr.closeSession(s)
			if len(dropped) != 0 {
				t.Errorf("a new leader dropped %d of the worker's %d leases", len(dropped), len(held))
				return
			}
		}
	}()
	for i := 0; i < 20; i++ {
		n.setLeader(true) // what an election does, again and again
	}
	close(stop)
	wg.Wait()
}

// A late result from a worker whose lease expired and was reassigned is
// refused (and acknowledged, so that the worker drops it); the new holder's
// result is the one recorded, once.
func TestLateResultAfterReassignmentIsRecordedOnce(t *testing.T) {
	n := singleNode(t, Config{LeaseTTL: time.Minute})
	first := leaseShards(t, n, "a", 1)[0]
	if _, err := n.Apply(releaseCommand(time.Now(), []*cfpb.Release{{SweepId: "s", Shard: 0, LeaseId: first.LeaseId,
		Reason: cfpb.ReleaseReason_RELEASE_REASON_EXPIRED}})); err != nil {
		t.Fatal(err)
	}
	r, err := n.Apply(assignCommand(time.Now(), []*cfpb.Assignment{{SweepId: "s", Shard: 0, Worker: "b"}}))
	if err != nil || len(r.Granted) != 1 {
		t.Fatalf("reassign: %v, %v", r, err)
	}
	second := r.Granted[0]
	lr := n.leaderRole()
	sa, _, _ := lr.open(&cfpb.Hello{WorkerId: "a", Slots: 1})
	sb, _, _ := lr.open(&cfpb.Hello{WorkerId: "b", Slots: 1})
	result := func(worker string, l *cfpb.LeaseRef, correct int64) *cfpb.ShardResult {
		return &cfpb.ShardResult{SweepId: "s", Shard: 0, LeaseId: l.LeaseId, Attempt: l.Attempt, Worker: worker,
			Summary: &cfpb.Summary{Images: 1, Correct: correct}}
	}
	// The late one first: first-writer-wins alone would record it.
	lr.commit([]workerEvent{{sess: sa, result: result("a", first, 0)}, {sess: sb, result: result("b", second, 1)}})
	sh, err := n.st.Shard("s", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sh.State != cfpb.ShardState_SHARD_STATE_DONE || sh.Worker != "b" || sh.Result.GetSummary().GetCorrect() != 1 {
		t.Fatalf("shard %v; want done with b's result", sh)
	}
	sw, _ := n.st.Sweep("s")
	if sw.Alarms != 0 || sw.Progress.Done != 1 {
		t.Fatalf("sweep %v; want one shard done, no alarm", sw)
	}
	for name, s := range map[string]*session{"a": sa, "b": sb} {
		select {
		case m := <-s.out:
			if m.GetAck() == nil {
				t.Fatalf("worker %s got %v, want an Ack", name, m)
			}
		default:
			t.Fatalf("worker %s's result was not acknowledged", name)
		}
	}
}

// A batch of results and failure reports is one raft entry: the failures
// ride with the results, so that they commit or are re-sent together and
// a failed apply never strands one half of a batch.
func TestResultsAndFailuresOfABatchCommitAsOneEntry(t *testing.T) {
	n := singleNode(t, Config{LeaseTTL: time.Minute})
	held := leaseShards(t, n, "w", 2)
	lr := n.leaderRole()
	s, _, _ := lr.open(&cfpb.Hello{WorkerId: "w", Slots: 2, Held: held})
	before := n.st.Applied()
	lr.commit([]workerEvent{
		{sess: s, result: &cfpb.ShardResult{SweepId: "s", Shard: 0, LeaseId: held[0].LeaseId, Attempt: held[0].Attempt, Worker: "w",
			Summary: &cfpb.Summary{Images: 1, Correct: 1}}},
		{sess: s, failure: &cfpb.ShardFailure{Lease: held[1], Error: "boom"}},
	})
	if got := n.st.Applied() - before; got != 1 {
		t.Fatalf("the batch took %d raft entries, want 1", got)
	}
	done, _ := n.st.Shard("s", 0)
	failed, _ := n.st.Shard("s", 1)
	if done.State != cfpb.ShardState_SHARD_STATE_DONE || failed.State != cfpb.ShardState_SHARD_STATE_PENDING || failed.Failures != 1 || failed.LastError != "boom" {
		t.Fatalf("shards %v and %v; want the first done, the second pending after one counted failure", done, failed)
	}
	for i := 0; i < 2; i++ {
		select {
		case m := <-s.out:
			if m.GetAck() == nil {
				t.Fatalf("got %v, want an Ack", m)
			}
		default:
			t.Fatalf("%d of 2 reports acknowledged", i)
		}
	}
}

// A batch whose apply fails is not acknowledged at all: the result and the
// failure report stay with the worker, the shards keep their leases, and
// when the worker sends them again both commit, the failure counted once.
func TestABatchThatDidNotCommitIsSentAgainFailuresIncluded(t *testing.T) {
	n := singleNode(t, Config{LeaseTTL: time.Minute})
	held := leaseShards(t, n, "w", 2)
	lr := n.leaderRole()
	s, _, _ := lr.open(&cfpb.Hello{WorkerId: "w", Slots: 2, Held: held})
	batch := func() []workerEvent {
		return []workerEvent{
			{sess: s, result: &cfpb.ShardResult{SweepId: "s", Shard: 0, LeaseId: held[0].LeaseId, Attempt: held[0].Attempt, Worker: "w",
				Summary: &cfpb.Summary{Images: 1, Correct: 1}}},
			{sess: s, failure: &cfpb.ShardFailure{Lease: held[1], Error: "boom"}},
		}
	}
	lr.failProposal = func(*cfpb.Command) error { return ErrLeadershipLost }
	lr.commit(batch())
	select {
	case m := <-s.out:
		t.Fatalf("a batch that did not commit sent %v", m)
	default:
	}
	for k := int32(0); k < 2; k++ {
		if sh, _ := n.st.Shard("s", k); sh.State != cfpb.ShardState_SHARD_STATE_LEASED || sh.Failures != 0 {
			t.Fatalf("after the failed apply, shard %d is %v; want still leased, no failure counted", k, sh)
		}
	}

	lr.failProposal = nil
	lr.commit(batch()) // the worker's re-send
	done, _ := n.st.Shard("s", 0)
	failed, _ := n.st.Shard("s", 1)
	if done.State != cfpb.ShardState_SHARD_STATE_DONE || failed.State != cfpb.ShardState_SHARD_STATE_PENDING || failed.Failures != 1 || failed.LastError != "boom" {
		t.Fatalf("after the re-send, shards %v and %v; want the first done, the second pending after one counted failure", done, failed)
	}
	for i := 0; i < 2; i++ {
		select {
		case m := <-s.out:
			if m.GetAck() == nil {
				t.Fatalf("got %v, want an Ack", m)
			}
		default:
			t.Fatalf("%d of 2 reports acknowledged after the re-send", i)
		}
	}
}
