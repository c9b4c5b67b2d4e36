package nodesource_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/local"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/internal/ui"
	"github.com/clipformer/clipformer/internal/ui/nodesource"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// gatedRunner completes a shard (10 images, 7 correct, one block) each
// time the test sends on gate.
func gatedRunner(gate <-chan struct{}) func(context.Context, *cfpb.SweepSpec, *cfpb.ShardWork, func(int)) (*cfpb.Summary, error) {
	return func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &cfpb.Summary{Images: int64(w.Count), Correct: int64(w.Count) * 7 / 10,
			Signal: []*cfpb.Sum128{{Hi: 9}}, Noise: []*cfpb.Sum128{{Lo: 3}}}, nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSourceOverARunsNode reads a single-machine run's node through the
// Source the dashboard uses, and pauses and resumes it.
func TestSourceOverARunsNode(t *testing.T) {
	spec, err := sweep.Parse("t.yaml", []byte("model: {path: m}\ndataset: {kind: folder, path: x, limit: 40}\ngrid: {gamma: [0, 2], clip: [off, {alpha: 2, beta: 0.25}]}\nimages_per_shard: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	r, err := local.Start(t.Context(), spec, local.Options{Workers: 1, Run: gatedRunner(gate)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := nodesource.New(r.Node())
	ctx := t.Context()
	id := r.Sweep().Id

	changed := src.Changed()
	gate <- struct{}{}
	<-changed // a completed shard is a change
	waitFor(t, "one shard done", func() bool {
		sw, err := src.Sweep(ctx, id)
		return err == nil && sw.Progress.Done == 1
	})
	sweeps, err := src.Sweeps(ctx)
	if err != nil || len(sweeps) != 1 || sweeps[0].Id != id {
		t.Fatalf("Sweeps: %v, %v", sweeps, err)
	}
	shards, err := src.Shards(ctx, id)
	if err != nil || len(shards) != 16 || shards[0].State != cfpb.ShardState_SHARD_STATE_DONE {
		t.Fatalf("Shards: %d shards, first %+v, %v", len(shards), shards[0], err)
	}
	res, err := src.Results(ctx, id)
	if err != nil || len(res) != 4 || res[0].ShardsDone != 1 {
		t.Fatalf("Results: %v, %v", res, err)
	}
	cl, err := src.Cluster(ctx)
	if err != nil || len(cl.Coordinators) != 1 || cl.Coordinators[0].RaftState != "Leader" || cl.Coordinators[0].AppliedIndex == 0 {
		t.Fatalf("Cluster coordinators: %+v, %v", cl, err)
	}
	// The worker holds its second shard at the gate, and heartbeats.
	waitFor(t, "the worker running a shard, with a heartbeat", func() bool {
		cl, err := src.Cluster(ctx)
		return err == nil && len(cl.Workers) == 1 && cl.Workers[0].Connected && cl.Workers[0].Running == 1 &&
			!cl.Workers[0].LastHeartbeat.IsZero() && cl.Workers[0].ShardsDone == 1 && cl.Workers[0].ImagesPerSecond > 0
	})

	caller := ui.Caller{Role: ui.RoleClient, Name: "alice"}
	for _, step := range []struct {
		a    ui.Action
		want cfpb.SweepState
	}{{ui.ActionPause, cfpb.SweepState_SWEEP_STATE_PAUSED}, {ui.ActionResume, cfpb.SweepState_SWEEP_STATE_RUNNING}} {
		if err := src.Act(ctx, caller, step.a, id); err != nil {
			t.Fatalf("%s: %v", step.a, err)
		}
		if sw, _ := src.Sweep(ctx, id); sw.State != step.want {
			t.Errorf("after %s: %v, want %v", step.a, sw.State, step.want)
		}
	}
	if err := src.Act(ctx, caller, ui.ActionDelete, id); !errors.Is(err, ui.ErrRefused) {
		t.Errorf("deleting a running sweep: %v, want ErrRefused", err)
	}
	if _, err := src.Sweep(ctx, "no-such-sweep"); !errors.Is(err, ui.ErrNotFound) {
		t.Errorf("unknown sweep: %v, want ErrNotFound", err)
	}
}
