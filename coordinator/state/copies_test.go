package state

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// copySpec has 2 trial-independent points (gamma 0) and 2 others, 3 trials
// and 4 image ranges: 48 shards, of which 2 x 2 x 4 = 16 are copies.
func copySpec(t *testing.T) *cfpb.SweepSpec { return spec(t, "trials: 3\n") }

// resultFor is a distinct result for shard k, the same for every trial of
// a point and image range (a trial-independent point's bits).
func resultFor(s *State, l *cfpb.LeaseRef, worker string) *cfpb.ShardResult {
	sw := s.sweeps[l.SweepId]
	perTrial := int32(len(sw.layout.Points) * sw.layout.Chunks)
	r := result(l, worker, int64(l.Shard%perTrial%10))
	r.Summary.Signal[0].Lo = uint64(l.Shard % perTrial)
	return r
}

// runAll completes the open leases, then leases and completes every shard
// Pick offers until none is left, and returns the shards it leased and the
// copies the completions recorded.
func runAll(t *testing.T, s *State, now int64) (leased []int32, copied int) {
	t.Helper()
	var open []*cfpb.ShardResult
	for _, l := range s.Leases() {
		open = append(open, resultFor(s, l.Ref, l.Worker))
	}
	copied += mustApply(t, s, cmd(now, &cfpb.CompleteShards{Results: open})).Copied
	for {
		ls := leaseAll(t, s, now, "w1", 7)
		if len(ls) == 0 {
			return leased, copied
		}
		var rs []*cfpb.ShardResult
		for _, l := range ls {
			leased = append(leased, l.Shard)
			rs = append(rs, resultFor(s, l, "w1"))
		}
		copied += mustApply(t, s, cmd(now+1, &cfpb.CompleteShards{Results: rs})).Copied
		now += 2
	}
}

// Copies are never leased, are done with their source's result in the
// same command, count as done shards (and as unfinished ones for quotas
// until then), and the results equal those of a sweep that computed every
// trial and got the same bits in each.
func TestCopiesCompleteWhenTheirSourceDoes(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: copySpec(t), CopyDeterministicTrials: true}))
	sw, _ := s.Sweep("a")
	if sw.Shards != 48 || sw.Progress.Copies != 16 {
		t.Fatalf("%d shards, %d copies; want 48 and 16", sw.Shards, sw.Progress.Copies)
	}
	// A copy holds its place in the shard table: it counts for quotas.
	if err := s.CheckQuota("", 1, &cfpb.Quota{MaxShards: 48}); err == nil {
		t.Fatal("48 unfinished shards and one more fit a quota of 48")
	}
	// No command leases a copy, whoever proposes it.
	if g := mustApply(t, s, cmd(2, &cfpb.AssignShards{Assignments: []*cfpb.Assignment{{SweepId: "a", Shard: 16, Worker: "w1"}}})).Granted; len(g) != 0 {
		t.Fatalf("copy shard 16 was leased: %v", g)
	}
	leased, copied := runAll(t, s, 3)
	if len(leased) != 32 || copied != 16 {
		t.Fatalf("%d shards leased, %d copies recorded; want 32 and 16", len(leased), copied)
	}
	for _, k := range leased {
		if sh, _ := s.Shard("a", k); sh.Copy {
			t.Fatalf("copy shard %d was leased", k)
		}
	}
	sw, _ = s.Sweep("a")
	p := sw.Progress
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE || p.Done != 48 || p.Copied != 16 || p.ImagesDone != 320 || p.ImagesCopied != 160 || sw.Attempts != 32 {
		t.Fatalf("sweep %v, progress %v, attempts %d", sw.State, p, sw.Attempts)
	}
	if err := s.CheckQuota("", 48, &cfpb.Quota{MaxShards: 48}); err != nil {
		t.Fatalf("a finished sweep still holds quota: %v", err)
	}
	sh, _ := s.Shard("a", 16+16+4) // trial 2, image range 1, point 0 (gamma 0)
	src, _ := s.Shard("a", 4)
	if !sh.Copy || sh.CopyOf != 4 || sh.State != cfpb.ShardState_SHARD_STATE_DONE || sh.Attempt != 0 || !proto.Equal(sh.Result.Summary, src.Result.Summary) {
		t.Fatalf("shard 36: %v; its source: %v", sh, src)
	}
	// A result for a copy is ignored.
	if r := mustApply(t, s, cmd(100, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{result(&cfpb.LeaseRef{SweepId: "a", Shard: 36}, "w2", 9)}})); r.Ignored != 1 {
		t.Fatalf("a result for copy shard 36: %+v", r)
	}

	// The same sweep computing every trial, with the same bits per trial.
	ref := New()
	mustApply(t, ref, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: copySpec(t)}))
	if leased, copied := runAll(t, ref, 3); len(leased) != 48 || copied != 0 {
		t.Fatalf("without copies: %d shards leased, %d copies", len(leased), copied)
	}
	got, _ := s.Results("a")
	want, _ := ref.Results("a")
	for i := range got {
		if n := got[i].ShardsCopied; n != map[bool]int32{true: 8, false: 0}[got[i].Point.Gamma == 0] {
			t.Errorf("point %d (gamma %v): %d shards copied", i, got[i].Point.Gamma, n)
		}
		got[i].ShardsCopied = 0
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("point %d: %v, computing every trial gives %v", i, got[i], want[i])
		}
	}
}

// A source that fails for good fails its copies, which name it; the sweep
// still ends.
func TestCopiesFailWithTheirSource(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: copySpec(t), CopyDeterministicTrials: true}))
	now := int64(10)
	for attempt := 0; attempt < MaxFailures; attempt++ {
		g := mustApply(t, s, cmd(now, &cfpb.AssignShards{Assignments: []*cfpb.Assignment{{SweepId: "a", Shard: 0, Worker: "w1"}}})).Granted
		if len(g) != 1 {
			t.Fatalf("attempt %d: shard 0 not leased", attempt+1)
		}
		r := mustApply(t, s, cmd(now+1, &cfpb.CompleteShards{Failures: []*cfpb.Release{{SweepId: "a", Shard: 0, LeaseId: g[0].LeaseId, Error: "out of memory"}}}))
		if attempt == MaxFailures-1 && r.Failed != 3 {
			t.Fatalf("the last failure failed %d shards, want shard 0 and its 2 copies", r.Failed)
		}
		now += 10
	}
	for _, k := range []int32{16, 32} {
		sh, _ := s.Shard("a", k)
		if sh.State != cfpb.ShardState_SHARD_STATE_FAILED || !strings.Contains(sh.LastError, "copy of shard 0") || !strings.Contains(sh.LastError, "out of memory") {
			t.Fatalf("copy %d: %v %q", k, sh.State, sh.LastError)
		}
	}
	runAll(t, s, now)
	sw, _ := s.Sweep("a")
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Failed != 3 || sw.Progress.Done != 45 || sw.Progress.Copied != 14 {
		t.Fatalf("sweep %v, progress %v", sw.State, sw.Progress)
	}
}

// A snapshot taken with copies pending and done restores to the same
// state, which goes on identically; a copy marked where the spec has none
// (or the reverse) is refused.
func TestCopiesSurviveASnapshotRoundTrip(t *testing.T) {
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: copySpec(t), CopyDeterministicTrials: true}))
	mustApply(t, s, cmd(2, &cfpb.SubmitSweep{SweepId: "b", Spec: copySpec(t)}))
	ls := leaseAll(t, s, 3, "w1", 12)
	var rs []*cfpb.ShardResult
	for _, l := range ls[:6] {
		rs = append(rs, resultFor(s, l, "w1"))
	}
	if r := mustApply(t, s, cmd(4, &cfpb.CompleteShards{Results: rs})); r.Copied == 0 {
		t.Fatal("no copy done before the snapshot")
	}
	r := restored(t, s)
	if !bytes.Equal(snapBytes(t, s), snapBytes(t, r)) {
		t.Fatal("restored state differs from the original")
	}
	for _, st := range []*State{s, r} {
		runAll(t, st, 10)
	}
	if !bytes.Equal(snapBytes(t, s), snapBytes(t, r)) {
		t.Fatal("original and restored states diverged")
	}
	for _, st := range []*State{s, r} {
		a, _ := st.Sweep("a")
		b, _ := st.Sweep("b")
		if a.Progress.Copied != 16 || b.Progress.Copies != 0 || b.Progress.Done != 48 {
			t.Fatalf("a %v, b %v", a.Progress, b.Progress)
		}
	}

	// The copy marks must agree with the spec and the flag.
	snap := snapBytes(t, s)
	for name, edit := range map[string]func(*cfpb.SweepRecord, *cfpb.Shard){
		"flag dropped":      func(rec *cfpb.SweepRecord, _ *cfpb.Shard) { rec.CopyDeterministicTrials = false },
		"copy of the wrong": func(_ *cfpb.SweepRecord, sh *cfpb.Shard) { sh.CopyOf++ },
	} {
		b := rewriteSweepA(t, snap, edit)
		if err := New().Restore(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "marked copy") {
			t.Errorf("%s: %v, want a refusal naming the copy mark", name, err)
		}
	}
}

// rewriteSweepA decodes a streamed snapshot, applies edit to sweep a's
// record and to its shard 16 (a copy), and encodes it again.
func rewriteSweepA(t *testing.T, snap []byte, edit func(*cfpb.SweepRecord, *cfpb.Shard)) []byte {
	t.Helper()
	var recs []proto.Message
	in := bytes.NewReader(snap[len(snapshotMagic):])
	h := &cfpb.SnapshotHeader{}
	if err := readDelimited(in, h); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, h)
	for range h.Sweeps {
		rec := &cfpb.SweepRecord{}
		if err := readDelimited(in, rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		for n := 0; n < int(rec.ShardCount); {
			c := &cfpb.ShardChunk{}
			if err := readDelimited(in, c); err != nil {
				t.Fatal(err)
			}
			if rec.Id == "a" {
				edit(rec, c.Shards[16])
			}
			n += len(c.Shards)
			recs = append(recs, c)
		}
	}
	var out bytes.Buffer
	out.Write(snapshotMagic)
	for _, m := range recs {
		if err := writeDelimited(&out, m); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// A format 2 snapshot written before copies existed
// (testdata/snapshot-v2-before-copies.pb: a 3-trial sweep with gamma 0
// points, some of its later trials leased and done) restores with every
// trial computed, as it was submitted, and goes on so.
func TestASnapshotFromBeforeCopiesRestoresWithoutCopies(t *testing.T) {
	b := readTestdata(t, "snapshot-v2-before-copies.pb")
	s := New()
	if err := s.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	sw, _ := s.Sweep("a")
	pending := sw.Progress.Pending
	if sw.Progress.Copies != 0 || sw.Progress.Leased == 0 || sw.Progress.Done == 0 || pending == 0 {
		t.Fatalf("restored %v", sw.Progress)
	}
	leased, copied := runAll(t, s, 1000)
	sw, _ = s.Sweep("a")
	if copied != 0 || int64(len(leased)) != pending || sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Done != 48 || sw.Progress.Copied != 0 {
		t.Fatalf("%d of %d pending shards leased after restore, %d copies; sweep %v %v", len(leased), pending, copied, sw.State, sw.Progress)
	}
	if !bytes.Equal(snapBytes(t, s), snapBytes(t, restored(t, s))) {
		t.Fatal("the old state does not survive a round trip")
	}
}

func readDelimited(r *bytes.Reader, m proto.Message) error {
	return protodelim.UnmarshalFrom(r, m)
}

func writeDelimited(w io.Writer, m proto.Message) error {
	_, err := protodelim.MarshalTo(w, m)
	return err
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A replica that replays the whole log and one that restores a snapshot
// taken midway and replays the rest hold the same state, copies included.
func TestCopiesAreTheSameAfterReplayAndAfterRestore(t *testing.T) {
	var log []*cfpb.Command
	leader := New()
	apply := func(c *cfpb.Command) {
		mustApply(t, leader, c)
		log = append(log, c)
	}
	apply(cmd(1, &cfpb.SubmitSweep{SweepId: "a", Spec: copySpec(t), CopyDeterministicTrials: true}))
	for now := int64(2); ; now += 2 {
		picks := leader.Pick(now, []string{"w1", "w1", "w1", "w1", "w1"})
		if len(picks) == 0 {
			break
		}
		apply(cmd(now, &cfpb.AssignShards{Assignments: picks}))
		var rs []*cfpb.ShardResult
		var fails []*cfpb.Release
		for _, l := range leader.Leases() {
			if l.Ref.Shard == 4 && l.Ref.Attempt < MaxFailures { // shard 4 (gamma 0) fails twice, then succeeds
				fails = append(fails, &cfpb.Release{SweepId: "a", Shard: 4, LeaseId: l.Ref.LeaseId, Error: "flaky"})
				continue
			}
			rs = append(rs, resultFor(leader, l.Ref, l.Worker))
		}
		apply(cmd(now+1, &cfpb.CompleteShards{Results: rs, Failures: fails}))
	}
	replayed := New()
	for _, c := range log {
		mustApply(t, replayed, c)
	}
	mid := New()
	for _, c := range log[:len(log)/2] {
		mustApply(t, mid, c)
	}
	fromSnapshot := restored(t, mid)
	for _, c := range log[len(log)/2:] {
		mustApply(t, fromSnapshot, c)
	}
	want := snapBytes(t, leader)
	if !bytes.Equal(want, snapBytes(t, replayed)) || !bytes.Equal(want, snapBytes(t, fromSnapshot)) {
		t.Fatal("replay or restore-and-replay gives another state than the leader's")
	}
	sw, _ := fromSnapshot.Sweep("a")
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Copied != 16 || sw.Attempts != 34 {
		t.Fatalf("sweep %v %v, %d attempts; want done, 16 copies, 32 shards + 2 retries", sw.State, sw.Progress, sw.Attempts)
	}
}
