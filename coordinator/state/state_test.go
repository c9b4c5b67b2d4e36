package state

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

func spec(t *testing.T, extra string) *cfpb.SweepSpec {
	t.Helper()
	s, err := sweep.Parse("t.yaml", []byte(`
model: {path: m}
dataset: {kind: mnist, limit: 40}
grid: {gamma: [0, 4], clip: [off, {alpha: 2, beta: 0.25}]}
images_per_shard: 10
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cmd(now int64, c any) *cfpb.Command {
	out := &cfpb.Command{NowNs: now}
	switch c := c.(type) {
	case *cfpb.Command:
		return c
	case *cfpb.SubmitSweep:
		out.Cmd = &cfpb.Command_Submit{Submit: c}
	case *cfpb.SetSweepState:
		out.Cmd = &cfpb.Command_SetState{SetState: c}
	case *cfpb.AssignShards:
		out.Cmd = &cfpb.Command_Assign{Assign: c}
	case *cfpb.CompleteShards:
		out.Cmd = &cfpb.Command_Complete{Complete: c}
	case *cfpb.ReleaseShards:
		out.Cmd = &cfpb.Command_Release{Release: c}
	case *cfpb.RegisterWorker:
		out.Cmd = &cfpb.Command_RegisterWorker{RegisterWorker: c}
	}
	return out
}

func mustApply(t *testing.T, s *State, c *cfpb.Command) *Response {
	t.Helper()
	r := s.Apply(c)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	return r
}

func result(l *cfpb.LeaseRef, worker string, correct int64) *cfpb.ShardResult {
	return &cfpb.ShardResult{SweepId: l.SweepId, Shard: l.Shard, LeaseId: l.LeaseId, Attempt: l.Attempt, Worker: worker,
		Summary: &cfpb.Summary{Images: 10, Correct: correct, Signal: []*cfpb.Sum128{{Hi: 5}}, Noise: []*cfpb.Sum128{{Lo: 7}}}}
}

// leaseAll picks and assigns n shards to worker.
func leaseAll(t *testing.T, s *State, now int64, worker string, n int) []*cfpb.LeaseRef {
	t.Helper()
	slots := make([]string, n)
	for i := range slots {
		slots[i] = worker
	}
	picks := s.Pick(now, slots)
	return mustApply(t, s, cmd(now, &cfpb.AssignShards{Assignments: picks})).Granted
}

func TestApplyRunsASweepToDoneAndAggregates(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.RegisterWorker{WorkerId: "w1", Slots: 2}))
	mustApply(t, s, cmd(2, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	sw, _ := s.Sweep("a")
	if sw.Shards != 16 || sw.Points != 4 || sw.State != cfpb.SweepState_SWEEP_STATE_RUNNING || sw.Progress.Pending != 16 {
		t.Fatalf("sweep %v", sw)
	}
	for i := 0; i < 8; i++ {
		ls := leaseAll(t, s, int64(10+i), "w1", 2)
		if len(ls) != 2 {
			t.Fatalf("round %d: %d leases", i, len(ls))
		}
		var rs []*cfpb.ShardResult
		for _, l := range ls {
			rs = append(rs, result(l, "w1", 9))
		}
		if r := mustApply(t, s, cmd(int64(20+i), &cfpb.CompleteShards{Results: rs})); r.Completed != 2 {
			t.Fatalf("completed %d", r.Completed)
		}
	}
	sw, _ = s.Sweep("a")
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Done != 16 || sw.Progress.ImagesDone != 160 || sw.FinishedNs != 27 {
		t.Fatalf("sweep %v", sw)
	}
	res, _ := s.Results("a")
	for _, p := range res {
		if p.CompleteTrials != 1 || p.Trials[0].Images != 40 || p.Trials[0].Correct != 36 || p.Trials[0].Signal[0].Hi != 20 {
			t.Fatalf("point %v", p)
		}
	}
	if w := s.Workers()[0]; w.ShardsDone != 16 {
		t.Fatalf("worker %v", w)
	}
}

func TestDuplicateCompletionIsIgnoredAndADifferentOneRaisesTheAlarm(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	l := leaseAll(t, s, 2, "w1", 1)[0]
	if r := mustApply(t, s, cmd(3, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(l, "w1", 9)}})); r.Completed != 1 {
		t.Fatal(r)
	}
	if r := mustApply(t, s, cmd(4, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(l, "w2", 9)}})); r.Duplicates != 1 || r.Completed != 0 {
		t.Fatalf("%+v", r)
	}
	if r := mustApply(t, s, cmd(5, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(l, "w2", 8)}})); r.Alarms != 1 {
		t.Fatalf("%+v", r)
	}
	sh, _ := s.Shard("a", l.Shard)
	if sh.Result.Worker != "w1" || sh.Result.Summary.Correct != 9 {
		t.Fatalf("first writer lost: %v", sh.Result)
	}
	if sw, _ := s.Sweep("a"); sw.Alarms != 1 || sw.Progress.Done != 1 {
		t.Fatalf("sweep %v", sw)
	}
}

func TestThreeCountedFailuresFailAShardButLostWorkersNeverCount(t *testing.T) {
	s := New()
	one, err := sweep.Parse("one.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 10}\ngrid: {gamma: [1]}\nimages_per_shard: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: one}))
	now := int64(10)
	release := func(reason cfpb.ReleaseReason) {
		l := leaseAll(t, s, now, "w", 1)
		if len(l) != 1 {
			t.Fatalf("no lease at %d", now)
		}
		mustApply(t, s, cmd(now, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: l[0].Shard,
			LeaseId: l[0].LeaseId, Reason: reason, Error: "boom " + reason.String(), BackoffUntilNs: now + 5}}}))
		// Backoff: not leased again before it passes.
		if got := s.Pick(now+4, []string{"w"}); len(got) != 0 {
			t.Fatalf("leased during backoff: %v", got)
		}
		now += 5
	}
	for i := 0; i < 5; i++ {
		release(cfpb.ReleaseReason_RELEASE_REASON_LOST)
	}
	release(cfpb.ReleaseReason_RELEASE_REASON_ERROR)
	release(cfpb.ReleaseReason_RELEASE_REASON_RETURNED)
	release(cfpb.ReleaseReason_RELEASE_REASON_EXPIRED)
	sh, _ := s.Shard("a", 0)
	if sh.State != cfpb.ShardState_SHARD_STATE_PENDING || sh.Failures != 2 || sh.Attempt != 8 {
		t.Fatalf("shard %v", sh)
	}
	l := leaseAll(t, s, now, "w", 1)[0]
	r := mustApply(t, s, cmd(now, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: 0, LeaseId: l.LeaseId,
		Reason: cfpb.ReleaseReason_RELEASE_REASON_ERROR, Error: "model checksum differs"}}}))
	if r.Failed != 1 {
		t.Fatalf("%+v", r)
	}
	sh, _ = s.Shard("a", 0)
	sw, _ := s.Sweep("a")
	if sh.State != cfpb.ShardState_SHARD_STATE_FAILED || sh.LastError != "model checksum differs" || sw.State != cfpb.SweepState_SWEEP_STATE_DONE {
		t.Fatalf("shard %v sweep %v", sh, sw.State)
	}
	if n := len(sw.Errors); n != 3 || sw.Errors[n-1] != "shard 0: model checksum differs" {
		t.Fatalf("errors shown to users: %q", sw.Errors)
	}
	// A stale release (old lease id) changes nothing.
	if r := mustApply(t, s, cmd(now, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: 0, LeaseId: 1,
		Reason: cfpb.ReleaseReason_RELEASE_REASON_ERROR}}})); r.Released != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestPauseResumeAndCancel(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	ls := leaseAll(t, s, 2, "w", 3)
	mustApply(t, s, cmd(3, &cfpb.SetSweepState{SweepId: "a", State: cfpb.SweepState_SWEEP_STATE_PAUSED}))
	if got := s.Pick(4, []string{"w"}); len(got) != 0 {
		t.Fatalf("paused sweep leased %v", got)
	}
	mustApply(t, s, cmd(5, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(ls[0], "w", 1)}}))
	mustApply(t, s, cmd(6, &cfpb.SetSweepState{SweepId: "a", State: cfpb.SweepState_SWEEP_STATE_RUNNING}))
	if got := s.Pick(7, []string{"w"}); len(got) != 1 {
		t.Fatalf("resumed sweep leased %v", got)
	}
	mustApply(t, s, cmd(8, &cfpb.SetSweepState{SweepId: "a", State: cfpb.SweepState_SWEEP_STATE_CANCELLED}))
	sw, _ := s.Sweep("a")
	if sw.State != cfpb.SweepState_SWEEP_STATE_CANCELLED || sw.Progress.Done != 1 || sw.Progress.Cancelled != 15 || sw.FinishedNs != 8 {
		t.Fatalf("sweep %v", sw)
	}
	// A late result for a cancelled shard is ignored; the done one stays.
	if r := mustApply(t, s, cmd(9, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(ls[1], "w", 1)}})); r.Ignored != 1 {
		t.Fatalf("%+v", r)
	}
	if s.Apply(cmd(9, &cfpb.SetSweepState{SweepId: "nope", State: cfpb.SweepState_SWEEP_STATE_PAUSED})).Err == nil {
		t.Fatal("unknown sweep accepted")
	}
}

func TestPickHonoursPriorityFairShareAndCaps(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "low", Spec: spec(t, "priority: 0")}))
	mustApply(t, s, cmd(2, &cfpb.SubmitSweep{SweepId: "hi1", Spec: spec(t, "priority: 5\nmax_concurrent_shards: 2")}))
	mustApply(t, s, cmd(3, &cfpb.SubmitSweep{SweepId: "hi2", Spec: spec(t, "priority: 5")}))
	slots := []string{"a", "b", "c", "d", "e", "f"}
	got := map[string]int{}
	for _, p := range s.Pick(4, slots) {
		got[p.SweepId]++
	}
	// hi1 capped at 2, hi2 takes the rest; low runs only when both are full.
	if got["hi1"] != 2 || got["hi2"] != 4 || got["low"] != 0 {
		t.Fatalf("picks %v", got)
	}
	// Fair share: equal priority, no caps, alternate.
	s2 := New()
	mustApply(t, s2, cmd(1, &cfpb.SubmitSweep{SweepId: "x", Spec: spec(t, "")}))
	mustApply(t, s2, cmd(2, &cfpb.SubmitSweep{SweepId: "y", Spec: spec(t, "")}))
	leaseAll(t, s2, 3, "w", 3) // x gets 2, y 1 (x first on ties)
	got = map[string]int{}
	for _, p := range s2.Pick(4, slots[:5]) {
		got[p.SweepId]++
	}
	sx, _ := s2.Sweep("x")
	sy, _ := s2.Sweep("y")
	if lx, ly := sx.Progress.Leased+int64(got["x"]), sy.Progress.Leased+int64(got["y"]); lx != 4 || ly != 4 {
		t.Fatalf("unfair: x %d y %d leased after picks %v", lx, ly, got)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.RegisterWorker{WorkerId: "w1", Slots: 2, Version: "v"}))
	mustApply(t, s, cmd(1, &cfpb.Command{NowNs: 1, Cmd: &cfpb.Command_SetCoordinator{SetCoordinator: &cfpb.SetCoordinator{Id: "c1", RaftAddress: "c1:7000", GrpcAddress: "c1:7001"}}}))
	mustApply(t, s, cmd(2, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	mustApply(t, s, cmd(3, &cfpb.SubmitSweep{SweepId: "b", Spec: spec(t, "priority: 1")}))
	ls := leaseAll(t, s, 4, "w1", 5)
	mustApply(t, s, cmd(5, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(ls[0], "w1", 3)}}))
	mustApply(t, s, cmd(6, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: ls[1].SweepId, Shard: ls[1].Shard,
		LeaseId: ls[1].LeaseId, Reason: cfpb.ReleaseReason_RELEASE_REASON_ERROR, Error: "x", BackoffUntilNs: 100}}}))
	mustApply(t, s, cmd(7, &cfpb.SetSweepState{SweepId: "a", State: cfpb.SweepState_SWEEP_STATE_PAUSED}))

	r := restored(t, s)
	if !bytes.Equal(snapBytes(t, s), snapBytes(t, r)) {
		t.Fatal("restored state differs from the original")
	}
	// Both go on identically.
	for _, st := range []*State{s, r} {
		mustApply(t, st, cmd(8, &cfpb.SetSweepState{SweepId: "a", State: cfpb.SweepState_SWEEP_STATE_RUNNING}))
		more := leaseAll(t, st, 200, "w1", 4)
		mustApply(t, st, cmd(201, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(more[0], "w1", 2), result(more[1], "w1", 2)}}))
	}
	want := snapBytes(t, s)
	if !bytes.Equal(want, snapBytes(t, r)) {
		t.Fatal("original and restored states diverged")
	}
	// A newer format, a truncated stream and trailing bytes are refused,
	// naming the problem, and leave the state as it was.
	var newer bytes.Buffer
	newer.Write(snapshotMagic)
	if _, err := protodelim.MarshalTo(&newer, &cfpb.SnapshotHeader{Version: SnapshotVersion + 1}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"newer":     {newer.Bytes(), "streamed format version 3"},
		"truncated": {want[:len(want)-10], "state: snapshot: sweep b after shard 0"},
		"trailing":  {append(slices.Clone(want), 0), "bytes after the last of 2 sweeps"},
		"legacy v2": {mustMarshal(t, &cfpb.Snapshot{Version: 2}), "format version 2, this coordinator reads 1 and 2"},
		"garbage":   {[]byte("not a snapshot"), "neither a streamed snapshot nor a format 1 one"},
	} {
		err := r.Restore(bytes.NewReader(c.b))
		if err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	if !bytes.Equal(want, snapBytes(t, r)) {
		t.Fatal("a refused restore changed the state")
	}
}

// A snapshot written in format 1 (one message, before snapshots streamed;
// testdata/snapshot-v1.pb comes from that code, from the state the round
// trip test builds) still restores, and the state goes on from it.
func TestFormatOneSnapshotRestores(t *testing.T) {
	b, err := os.ReadFile("testdata/snapshot-v1.pb")
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	if err := s.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	sa, _ := s.Sweep("a")
	sb, _ := s.Sweep("b")
	if sa.State != cfpb.SweepState_SWEEP_STATE_PAUSED || sa.Progress.Done+sb.Progress.Done != 1 || sa.Progress.Leased+sb.Progress.Leased != 3 ||
		sa.Attempts+sb.Attempts != 5 || len(s.Workers()) != 1 || len(s.Coordinators()) != 1 {
		t.Fatalf("restored a %v, b %v", sa, sb)
	}
	// It streams in format 2 and restores from that to the same state.
	if !bytes.Equal(snapBytes(t, s), snapBytes(t, restored(t, s))) {
		t.Fatal("format 1 state does not survive a format 2 round trip")
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapBytes is a state's streamed snapshot.
func snapBytes(t *testing.T, s *State) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := s.Capture().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// restored is a new state restored from s's snapshot.
func restored(t *testing.T, s *State) *State {
	t.Helper()
	r := New()
	if err := r.Restore(bytes.NewReader(snapBytes(t, s))); err != nil {
		t.Fatal(err)
	}
	return r
}

// A summary that does not fit its shard is refused on every replica alike,
// before it can reach a merge: the shard stays leased, and the sweep's
// results and a later good result are unharmed.
func TestMalformedResultIsRefusedAndNeverMerged(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	ls := leaseAll(t, s, 2, "w1", 2)
	bad := map[string]*cfpb.Summary{
		"signal without noise":     {Images: 10, Correct: 3, Signal: []*cfpb.Sum128{{Hi: 1}, {Hi: 2}}, Noise: []*cfpb.Sum128{{Lo: 1}}},
		"negative images":          {Images: -10, Correct: 0},
		"wrong image count":        {Images: 11, Correct: 3},
		"more correct than images": {Images: 10, Correct: 12},
	}
	for name, sum := range bad {
		r := result(ls[0], "w1", 0)
		r.Summary = sum
		if got := mustApply(t, s, cmd(3, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{r}})); got.Malformed != 1 || got.Completed != 0 {
			t.Fatalf("%s: %+v", name, got)
		}
	}
	if sh, _ := s.Shard("a", ls[0].Shard); sh.State != cfpb.ShardState_SHARD_STATE_LEASED {
		t.Fatalf("shard after malformed results: %v", sh.State)
	}
	if sw, _ := s.Sweep("a"); len(sw.Errors) == 0 {
		t.Fatal("the sweep shows no error for the malformed results")
	}
	// Different signal lengths across shards still merge.
	good := []*cfpb.ShardResult{result(ls[0], "w1", 9), result(ls[1], "w1", 8)}
	good[1].Summary.Signal = append(good[1].Summary.Signal, &cfpb.Sum128{Hi: 1})
	good[1].Summary.Noise = append(good[1].Summary.Noise, &cfpb.Sum128{Hi: 1})
	if got := mustApply(t, s, cmd(4, &cfpb.CompleteShards{Results: good})); got.Completed != 2 {
		t.Fatalf("%+v", got)
	}
	if _, err := s.Results("a"); err != nil {
		t.Fatal(err)
	}
}

// A shard computed twice is visible in the sweep's figures even when both
// results are equal, while its result counts once; a worker re-sending its
// own unacknowledged result is not a second computation.
func TestAttemptsAndDuplicateResultsAreCounted(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	first := leaseAll(t, s, 2, "w1", 2)
	// The first lease of shard 0 expires; the shard is leased again.
	mustApply(t, s, cmd(3, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: first[0].Shard,
		LeaseId: first[0].LeaseId, Reason: cfpb.ReleaseReason_RELEASE_REASON_LOST}}}))
	second := leaseAll(t, s, 4, "w2", 1)[0]
	if second.Shard != first[0].Shard || second.Attempt != 2 {
		t.Fatalf("second lease %v, want shard %d attempt 2", second, first[0].Shard)
	}
	// Both attempts finish with the same numbers; the late one is a duplicate.
	mustApply(t, s, cmd(5, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(second, "w2", 9)}}))
	r := mustApply(t, s, cmd(6, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(first[0], "w1", 9)}}))
	if r.Completed != 0 || r.Duplicates != 1 || r.Alarms != 0 {
		t.Fatalf("late equal result: %+v", r)
	}
	// A re-send of the recorded result (lost Ack) is not a second computation.
	mustApply(t, s, cmd(7, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(second, "w2", 9)}}))
	mustApply(t, s, cmd(8, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(first[1], "w1", 9)}}))
	sw, _ := s.Sweep("a")
	if sw.Attempts != 3 || sw.DuplicateResults != 1 || sw.RecomputedShards != 1 || sw.Progress.Done != 2 || sw.Progress.ImagesDone != 20 {
		t.Fatalf("attempts %d duplicates %d recomputed %d done %d images %d; want 3 1 1 2 20", sw.Attempts,
			sw.DuplicateResults, sw.RecomputedShards, sw.Progress.Done, sw.Progress.ImagesDone)
	}
	if sh, _ := s.Shard("a", second.Shard); sh.Completions != 2 || sh.Attempt != 2 || sh.Result.LeaseId != second.LeaseId {
		t.Fatalf("shard %v: want 2 completions, 2 attempts, the second lease's result", sh)
	}
	res, _ := s.Results("a")
	var images int64
	for _, p := range res {
		images += p.Trials[0].Images
	}
	if images != 20 {
		t.Fatalf("results hold %d images, want 20 (the duplicate counted once)", images)
	}
	// The counts survive a snapshot.
	r2 := restored(t, s)
	if got, _ := r2.Sweep("a"); got.Attempts != 3 || got.DuplicateResults != 1 || got.RecomputedShards != 1 {
		t.Fatalf("restored: attempts %d duplicates %d recomputed %d", got.Attempts, got.DuplicateResults, got.RecomputedShards)
	}
}

// oneShard submits a sweep of a single shard as "a".
func oneShard(t *testing.T, s *State) {
	t.Helper()
	one, err := sweep.Parse("one.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 10}\ngrid: {gamma: [1]}\nimages_per_shard: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: one}))
}

// A shard that kills every worker that runs it is lost, which never counts
// as a failed attempt; after losses on MaxLosses different workers it fails
// as a poison shard, keeping its last error. Losses survive a snapshot.
func TestShardLostOnFiveWorkersFailsAsPoison(t *testing.T) {
	s := New()
	oneShard(t, s)
	lose := func(worker string, now int64) *Response {
		t.Helper()
		l := leaseAll(t, s, now, worker, 1)
		if len(l) != 1 {
			t.Fatalf("no lease for %s at %d", worker, now)
		}
		rel := &cfpb.Release{SweepId: "a", Shard: 0, LeaseId: l[0].LeaseId, Reason: cfpb.ReleaseReason_RELEASE_REASON_LOST}
		if worker == "w4" {
			rel.Reason, rel.Error = cfpb.ReleaseReason_RELEASE_REASON_EXPIRED, "out of memory"
		}
		return mustApply(t, s, cmd(now, &cfpb.ReleaseShards{Releases: []*cfpb.Release{rel}}))
	}
	for i, w := range []string{"w1", "w2", "w1", "w3", "w4"} {
		if r := lose(w, int64(10+i)); r.Failed != 0 {
			t.Fatalf("failed after %d losses on 4 workers", i+1)
		}
	}
	// A restored replica carries on identically.
	r2 := restored(t, s)
	if sh, _ := r2.Shard("a", 0); sh.Losses != 5 || len(sh.LostOn) != 4 || sh.State != cfpb.ShardState_SHARD_STATE_PENDING {
		t.Fatalf("restored shard %v: want 5 losses on 4 workers, pending", sh)
	}
	if r := lose("w5", 20); r.Failed != 1 {
		t.Fatalf("not failed after losses on 5 workers: %+v", r)
	}
	sh, _ := s.Shard("a", 0)
	want := "poison shard: lost 6 times on 5 different workers (w1, w2, w3, w4, w5); last error: worker w5 was lost while running the shard"
	if sh.State != cfpb.ShardState_SHARD_STATE_FAILED || sh.LastError != want {
		t.Fatalf("shard %v %q\nwant failed with %q", sh.State, sh.LastError, want)
	}
	if sw, _ := s.Sweep("a"); sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Failed != 1 || sw.Errors[len(sw.Errors)-1] != "shard 0: "+want {
		t.Fatalf("sweep %v %d failed, errors %q", sw.State, sw.Progress.Failed, sw.Errors)
	}
}

// With fewer workers than MaxLosses, a poison shard still fails after
// MaxTotalLosses losses in all.
func TestShardLostTenTimesOnOneWorkerFailsAsPoison(t *testing.T) {
	s := New()
	oneShard(t, s)
	for i := 0; i < MaxTotalLosses; i++ {
		l := leaseAll(t, s, int64(10+i), "only", 1)
		if len(l) != 1 {
			t.Fatalf("no lease after %d losses", i)
		}
		mustApply(t, s, cmd(int64(10+i), &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "a", Shard: 0, LeaseId: l[0].LeaseId,
			Reason: cfpb.ReleaseReason_RELEASE_REASON_LOST}}}))
	}
	if sh, _ := s.Shard("a", 0); sh.State != cfpb.ShardState_SHARD_STATE_FAILED || !strings.HasPrefix(sh.LastError, "poison shard: lost 10 times on 1 different workers (only)") {
		t.Fatalf("shard %v %q", sh.State, sh.LastError)
	}
}

// A failure report in the same batch as refused results (malformed, for an
// unknown sweep) still counts: each item of a batch stands on its own.
func TestFailureCountsWhenItsBatchHoldsRefusedResults(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: spec(t, "")}))
	ls := leaseAll(t, s, 2, "w1", 2)
	bad := result(ls[0], "w1", 3)
	bad.Summary.Images = 11
	unknown := result(ls[0], "w1", 3)
	unknown.SweepId = "gone"
	r := mustApply(t, s, cmd(3, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{bad, unknown, result(ls[0], "w1", 3)},
		Failures: []*cfpb.Release{{SweepId: "a", Shard: ls[1].Shard, LeaseId: ls[1].LeaseId, Error: "sim: NaN in block 3", BackoffUntilNs: 9}}}))
	if r.Malformed != 1 || r.Ignored != 1 || r.Completed != 1 || r.Released != 1 {
		t.Fatalf("%+v: want 1 malformed, 1 ignored, 1 completed, 1 released", r)
	}
	sh, _ := s.Shard("a", ls[1].Shard)
	if sh.State != cfpb.ShardState_SHARD_STATE_PENDING || sh.Failures != 1 || sh.LastError != "sim: NaN in block 3" || sh.NotBeforeNs != 9 {
		t.Fatalf("failed shard %v: want pending, 1 failure, its error, backoff 9", sh)
	}
}
