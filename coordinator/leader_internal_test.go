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
