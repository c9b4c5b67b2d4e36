package coordinator_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// raceSummary is a deterministic result with real differences between
// settings: against off, beta 0.125 is 30 points worse and beta 0.5 10
// points, with per-shard noise keyed on the shard.
func raceSummary(w *cfpb.ShardWork) *cfpb.Summary {
	acc := 0.7
	switch c := w.Point.Clip; {
	case c.Off:
	case c.Beta == 0.125:
		acc -= 0.3
	case c.Beta == 0.5:
		acc -= 0.1
	}
	h := fnv.New64a()
	fmt.Fprint(h, w.Point.Index, w.Trial, w.Start)
	acc += float64(h.Sum64()%1000)/1000*0.2 - 0.1
	return &cfpb.Summary{Images: int64(w.Count), Correct: int64(acc * float64(w.Count))}
}

// A race survives its leader killed hard mid-race: the new leader's state
// machine, rebuilt from the same committed log, goes on deciding, and the
// sweep ends with the decisions of the race replayed on the full grid
// (which a single-process run also ends with), on every live node.
func TestRaceSurvivesALeaderKillWithTheSameDecisions(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 10 * time.Second, HeartbeatInterval: 100 * time.Millisecond,
		Grace: 5 * time.Second, BackoffBase: 50 * time.Millisecond})
	lead := c.leader(-1)
	sweeps, _ := c.client((lead + 1) % 3)
	spec := mustSpec(t, `
model: {path: m}
dataset: {kind: mnist, limit: 600}
grid:
  gamma: [0, 1]
  clip_product: {include_off: true, alpha: [2, 3], beta: [0.125, 0.5]}
images_per_shard: 20
trials: 2
race: {block: 40, baseline: off}
`)
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		select {
		case <-time.After(2 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return raceSummary(w), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("w%d", i)
		pool.start(ctx, id, worker.New(worker.Config{ID: id, Coordinators: c.addrs(), Slots: 2, Run: run, RetryDelay: 20 * time.Millisecond}))
	}
	sw := submit(t, sweeps, spec)
	for deadline := time.Now().Add(30 * time.Second); progressOf(sweeps, sw.Id) < 60; {
		if time.Now().After(deadline) {
			t.Fatal("no progress before the crash")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before, err := sweeps.Get(ctx, &cfpb.SweepRef{Id: sw.Id})
	if err != nil || before.Adaptive.GetDecided() == 2 {
		t.Fatalf("before the crash: %v, %v: want a race under way", before.GetAdaptive(), err)
	}
	c.crash(lead)
	t.Logf("crashed the leader at %d shards done, %v", before.Progress.Done, before.Adaptive)
	next := c.leader(lead)
	live, _ := c.client(next)
	done := waitDone(t, live, sw.Id, 60*time.Second)
	if done.Adaptive.GetDecided() != 2 || done.Progress.Failed != 0 || done.Progress.Done >= int64(done.Shards) {
		t.Fatalf("sweep ended %v with %v: want both groups decided, some shards not needed", done.Progress, done.Adaptive)
	}
	got := results(t, live, sw.Id)
	t.Logf("done: %v, %v", done.Progress, done.Adaptive)

	l, _ := sweep.NewLayout(spec)
	full := make([]paired.Outcomes, len(l.Points))
	for i := range full {
		full[i] = paired.Outcomes{}
	}
	for k := 0; k < l.Shards(); k++ {
		pt, u := l.Unit(k)
		// A later trial of a noise-free point is a copy of trial 0.
		src := k
		if c, ok := l.CopyOf(k); ok {
			src = c
		}
		s := raceSummary(l.Shard("", src))
		full[pt][u] = paired.Count{Images: s.Images, Correct: s.Correct}
	}
	dropped := 0
	for _, g := range sweep.RaceGroups(l, spec.Race) {
		settings := make([]paired.Outcomes, len(g))
		for i, p := range g {
			settings[i] = full[p]
		}
		want, err := paired.Race(sweep.RaceConfig(l, spec.Race), sweep.RaceOrder(l), settings)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range g {
			st, d := want.Settings[i], got[p].Decision
			if d.GetStatus() != st.Status.String() || d.Round != int32(st.Round) || d.Gain != st.Gain.Estimate || d.PValue != st.P {
				t.Errorf("point %d: decided %v after the leader kill, the full grid's race %+v", p, d, st)
			}
			if st.Status == paired.Dropped {
				dropped++
			}
		}
	}
	if dropped == 0 {
		t.Error("no setting dropped: the test races nothing")
	}
	// Every live node applied the same log: the same decisions.
	for i := range c.nodes {
		if i == lead {
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := c.nodes[i].State().Results(sw.Id)
			same := err == nil && len(res) == len(got)
			for p := 0; same && p < len(res); p++ {
				same = res[p].Decision.String() == got[p].Decision.String()
			}
			if same {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d's decisions differ from the leader's: %v", i, res)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
