package coordinator_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// The sweep the scheduler test runs on the real simulator.
const realSpec = `
model: {path: ../models/vit-mnist.safetensors}
dataset: {kind: mnist, limit: 96}
grid: {gamma: [0, 3], clip: [off, {alpha: 2, beta: 0.25}]}
trials: 2
images_per_shard: 8
seed: 7
`

// referenceResults evaluates every (point, trial) of spec in one call each,
// in this process: what a single-process run computes.
func referenceResults(t *testing.T, spec *cfpb.SweepSpec) []*cfpb.PointResult {
	t.Helper()
	exec := &worker.Executor{AllowUnchecked: true}
	l, err := sweep.NewLayout(spec)
	if err != nil {
		t.Fatal(err)
	}
	var out []*cfpb.PointResult
	for _, p := range l.Points {
		pr := &cfpb.PointResult{Point: p}
		for tr := 0; tr < l.Trials; tr++ {
			sum, err := exec.Run(context.Background(), spec, &cfpb.ShardWork{Trial: int32(tr), Start: 0, Count: int32(l.Images), Point: p}, nil)
			if err != nil {
				t.Fatal(err)
			}
			pr.Trials = append(pr.Trials, sum)
		}
		out = append(out, pr)
	}
	return out
}

func TestSchedulerWithWorkerDeathsSlowWorkersAndLeaderChangesMatchesSingleProcessRun(t *testing.T) {
	spec := mustSpec(t, realSpec)
	want := referenceResults(t, spec)

	// The lease outlives a busy machine's pauses (the simulator under the
	// race detector, other jobs on the cores): a shorter one expires leases
	// of live workers, and the sweep can stall. It only delays the retry of
	// the shards that killed workers held.
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 5 * time.Second, HeartbeatInterval: 100 * time.Millisecond,
		Grace: 500 * time.Millisecond, BackoffBase: 20 * time.Millisecond})
	lead := c.leader(-1)
	sweeps, _ := c.client(lead)
	sw := submit(t, sweeps, spec)

	exec := &worker.Executor{AllowUnchecked: true, Threads: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	delay := func() time.Duration { // some workers are slow
		mu.Lock()
		defer mu.Unlock()
		return time.Duration(rng.IntN(30)) * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	startWorker := func(id string, slow bool) {
		run := func(ctx context.Context, s *cfpb.SweepSpec, w *cfpb.ShardWork, progress func(int)) (*cfpb.Summary, error) {
			if slow {
				select {
				case <-time.After(delay() * 4):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return exec.Run(ctx, s, w, progress)
		}
		pool.start(ctx, id, worker.New(worker.Config{ID: id, Coordinators: c.addrs(), Slots: 2, Run: run, RetryDelay: 30 * time.Millisecond}))
	}
	for i := 0; i < 4; i++ {
		startWorker(fmt.Sprintf("w%d", i), i%2 == 1)
	}
	// Chaos: kill and replace workers, and move the leadership, while the
	// sweep runs.
	chaos := rand.New(rand.NewPCG(3, 4)) // this goroutine's own
	next := 4
	for round := 0; round < 6; round++ {
		time.Sleep(150 * time.Millisecond)
		victim := fmt.Sprintf("w%d", chaos.IntN(next))
		pool.kill(victim)
		startWorker(fmt.Sprintf("w%d", next), round%2 == 0)
		next++
		if round == 1 || round == 4 {
			l := c.leader(-1)
			if err := c.nodes[l].Raft().LeadershipTransfer().Error(); err != nil {
				t.Logf("leadership transfer: %v", err)
			}
		}
	}
	lead = c.leader(-1)
	sweeps, _ = c.client(lead)
	done := waitDone(t, sweeps, sw.Id, 5*time.Minute)
	if done.Progress.Done != int64(done.Shards) || done.Alarms != 0 {
		t.Fatalf("sweep %v", done)
	}
	got := results(t, sweeps, sw.Id)
	assertSameResults(t, got, want)
	for _, p := range got {
		if p.CompleteTrials != 2 {
			t.Fatalf("point %d: %d complete trials", p.Point.Index, p.CompleteTrials)
		}
	}
	t.Logf("%d shards over %d workers (%d killed); aggregate identical to the single-process run", done.Shards, next, next-4)
}
