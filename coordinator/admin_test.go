package coordinator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

func TestAddAndRemoveACoordinator(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true})
	lead := c.leader(-1)
	// A fourth node, started without a peer list: it waits to be added.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, tr := raft.NewInmemTransport("raft-c3")
	for _, other := range c.trans {
		tr.Connect(other.LocalAddr(), other)
		other.Connect(tr.LocalAddr(), tr)
	}
	n4, err := coordinator.NewNode(coordinator.Config{ID: "c3", GRPCAdvertise: lis.Addr().String(), Transport: tr, InMemory: true,
		Fast: true, Embedded: true, RaftLog: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(coordinator.ServerOptions(nil)...)
	n4.Register(srv, nil)
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Stop(); n4.Shutdown() })

	_, admin := c.client((lead + 1) % 3) // through a follower
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := admin.AddCoordinator(ctx, &cfpb.AddCoordinatorRequest{Id: "c3", RaftAddress: "raft-c3", GrpcAddress: lis.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, co := range st.Coordinators {
		if co.Id == "c3" {
			found = co.Suffrage == "voter" && co.GrpcAddress == lis.Addr().String()
		}
	}
	if len(st.Coordinators) != 4 || !found {
		t.Fatalf("after add: %v", st.Coordinators)
	}
	// The new node has the replicated state and knows the leader.
	if err := n4.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = admin.RemoveCoordinator(ctx, &cfpb.RemoveCoordinatorRequest{Id: "c3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Coordinators) != 3 {
		t.Fatalf("after remove: %v", st.Coordinators)
	}
}

func TestDrainingWorkerFinishesWhatItHoldsAndTakesNothingNew(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true})
	c.leader(-1)
	sweeps, _ := c.client(0)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 100}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	var started, finished atomic.Int32
	release := make(chan struct{})
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		started.Add(1)
		<-release
		finished.Add(1)
		return &cfpb.Summary{Images: int64(w.Count)}, nil
	}
	w := worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 3, Run: run, RetryDelay: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	submit(t, sweeps, spec)
	for started.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	w.Drain()
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a draining worker did not stop")
	}
	if s, f, a := started.Load(), finished.Load(), w.Acknowledged(); s != 3 || f != 3 || a != 3 {
		t.Fatalf("started %d, finished %d, acknowledged %d; want 3 each", s, f, a)
	}
}

// TestElectionDoesNotRerunWork moves the leadership while every worker is
// in the middle of a shard: the new leader extends the leases, the workers
// reconnect and re-adopt them, and no shard is computed twice.
func TestElectionDoesNotRerunWork(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 2 * time.Second, HeartbeatInterval: 100 * time.Millisecond})
	lead := c.leader(-1)
	sweeps, _ := c.client(lead)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 24}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	var mu sync.Mutex
	runs := map[int32]int{}
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		mu.Lock()
		runs[w.Shard]++ // started, whether or not it is later cancelled
		mu.Unlock()
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &cfpb.Summary{Images: int64(w.Count)}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("w%d", i)
		pool.start(ctx, id, worker.New(worker.Config{ID: id, Coordinators: c.addrs(), Slots: 2, Run: run, RetryDelay: 20 * time.Millisecond}))
	}
	sw := submit(t, sweeps, spec)
	time.Sleep(150 * time.Millisecond) // every worker mid-shard
	newLead := c.leader(c.transferLeadership())
	sweeps, _ = c.client(newLead)
	done := waitDone(t, sweeps, sw.Id, 30*time.Second)
	if done.Progress.Done != 24 {
		t.Fatalf("sweep %v", done)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, n := range runs {
		if n != 1 {
			t.Errorf("shard %d started %d times across the election", k, n)
		}
	}
}

// TestMalformedResultsCountAsFailedAttempts has a worker whose first
// attempt at every shard reports a summary that does not fit the shard:
// the leader refuses each as a failed attempt (no replica ever merges it),
// the retries succeed, the sweep ends done with the right numbers, and the
// worker holds nothing unacknowledged.
func TestMalformedResultsCountAsFailedAttempts(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true, BackoffBase: 10 * time.Millisecond})
	c.leader(-1)
	sweeps, _ := c.client(0)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 8}\ngrid: {gamma: [0]}\nimages_per_shard: 2\n")
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		return &cfpb.Summary{Images: int64(w.Count), Correct: 1}, nil
	}
	var bad atomic.Int32
	malformed := func(r worker.Runner) worker.Runner {
		seen := map[int32]bool{}
		var mu sync.Mutex
		return func(ctx context.Context, s *cfpb.SweepSpec, w *cfpb.ShardWork, p func(int)) (*cfpb.Summary, error) {
			mu.Lock()
			first := !seen[w.Shard]
			seen[w.Shard] = true
			mu.Unlock()
			if first {
				bad.Add(1)
				return &cfpb.Summary{Images: int64(w.Count), Signal: []*cfpb.Sum128{{Hi: 1}}}, nil
			}
			return r(ctx, s, w, p)
		}
	}
	w := worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 2, Run: malformed(run), RetryDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	sw := submit(t, sweeps, spec)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := sweeps.Get(ctx, &cfpb.SweepRef{Id: sw.Id})
		if err != nil {
			t.Fatal(err)
		}
		if got.State == cfpb.SweepState_SWEEP_STATE_DONE {
			if got.Progress.ImagesDone != 8 || len(got.Errors) == 0 || !strings.Contains(strings.Join(got.Errors, "\n"), "malformed") {
				t.Fatalf("sweep done with %d images and errors %q", got.Progress.ImagesDone, got.Errors)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweep not done: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if bad.Load() != 4 {
		t.Fatalf("%d malformed results sent, want 4 (one per shard)", bad.Load())
	}
	w.Drain()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not drain")
	}
}

// A worker whose every result is malformed has each acknowledged as a
// failure: its shards fail after their attempts, and the worker holds
// nothing and drains, instead of re-sending the refused results forever.
func TestMalformedResultsAreAcknowledgedAsFailures(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true, BackoffBase: 10 * time.Millisecond})
	c.leader(-1)
	sweeps, _ := c.client(0)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 2}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		return &cfpb.Summary{Images: int64(w.Count), Signal: []*cfpb.Sum128{{Hi: 1}}}, nil // no Noise: does not fit
	}
	w := worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 1, Run: run, RetryDelay: 20 * time.Millisecond})
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(context.Background()) }()
	sw := submit(t, sweeps, spec)
	done := waitDone(t, sweeps, sw.Id, 30*time.Second)
	if done.Progress.Failed != 2 || !strings.Contains(strings.Join(done.Errors, "\n"), "malformed") {
		t.Fatalf("sweep ended with %d failed shards and errors %q; want 2 failed, malformed", done.Progress.Failed, done.Errors)
	}
	w.Drain()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not drain: a malformed result was never acknowledged")
	}
}
