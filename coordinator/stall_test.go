package coordinator_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// A worker that heartbeats but whose shard never moves loses its lease
// long before the lease TTL: it is told to stop, the attempt counts with
// an error saying the shard was stuck, and another worker runs the shard.
func TestStalledLeaseIsRevokedAndTheShardRunsElsewhere(t *testing.T) {
	// A lease TTL far beyond the test's span: only the stall rule can end
	// the stuck lease. With no shard done yet the expected shard time is
	// the ceiling, so the limit is 2 x 150 ms. The retry's backoff outlasts
	// the stuck worker, so that the shard's second attempt is elsewhere.
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true, LeaseTTL: time.Minute, HeartbeatInterval: 50 * time.Millisecond,
		BackoffBase: 2 * time.Second, Stall: state.StallPolicy{Factor: 2, Floor: 100 * time.Millisecond, Ceiling: 150 * time.Millisecond}})
	c.leader(-1)
	sweeps, _ := c.client(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	stopped := make(chan struct{})
	var once sync.Once
	pool.start(ctx, "stuck", worker.New(worker.Config{ID: "stuck", Coordinators: c.addrs(), Slots: 1, RetryDelay: 20 * time.Millisecond,
		Run: func(ctx context.Context, _ *cfpb.SweepSpec, _ *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
			<-ctx.Done() // alive, heartbeating, never progressing
			once.Do(func() { close(stopped) })
			return nil, ctx.Err()
		}}))
	sw := submit(t, sweeps, mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 1}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"))
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the stuck worker was never told to stop its shard")
	}
	pool.kill("stuck")
	pool.start(ctx, "good", worker.New(worker.Config{ID: "good", Coordinators: c.addrs(), Slots: 1, RetryDelay: 20 * time.Millisecond,
		Run: func(_ context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
			return fakeSummary(w), nil
		}}))
	done := waitDone(t, sweeps, sw.Id, 15*time.Second)
	sh, err := c.nodes[0].State().Shard(sw.Id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Worker != "good" || sh.Attempt != 2 || sh.Failures != 1 {
		t.Fatalf("shard %v; want done by good on the second attempt, the stuck one counted", sh)
	}
	if len(done.Errors) == 0 || !strings.Contains(done.Errors[0], "no progress") || !strings.Contains(done.Errors[0], "stuck") {
		t.Fatalf("sweep errors %q; want the stall named", done.Errors)
	}
}
