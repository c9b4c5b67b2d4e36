package state

import (
	"errors"
	"testing"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Each owner may have at most max_sweeps sweeps running or paused and
// max_shards shards unfinished; the refusal names the quota and its limit,
// other owners are not affected, and finishing work frees quota. The
// limits ride in the command, so a restored replica refuses alike.
func TestSubmitOverTheOwnersQuotaIsRefusedNamingTheLimit(t *testing.T) {
	s := New()
	submit := func(st *State, id, owner string, q *cfpb.Quota) error {
		return st.Apply(cmd(1, &cfpb.SubmitSweep{SweepId: id, Owner: owner, Spec: spec(t, ""), Quota: q})).Err
	}
	bySweeps := &cfpb.Quota{MaxSweeps: 2, MaxShards: 100}
	for _, id := range []string{"a1", "a2"} {
		if err := submit(s, id, "alice", bySweeps); err != nil {
			t.Fatal(err)
		}
	}
	err := submit(s, "a3", "alice", bySweeps)
	want := `state: quota exceeded: owner "alice" has 2 sweeps running or paused; the quota allows 2 at once (max_sweeps); wait for one to finish or cancel one`
	if !errors.Is(err, ErrQuota) || err.Error() != want {
		t.Fatalf("third sweep: %v\nwant %s", err, want)
	}
	if err := s.CheckQuota("alice", 16, bySweeps); err == nil || err.Error() != want {
		t.Fatalf("CheckQuota: %v, want the same refusal", err)
	}
	if _, err := s.Sweep("a3"); !errors.Is(err, ErrUnknownSweep) {
		t.Fatal("a refused sweep was added")
	}
	if err := submit(s, "b1", "bob", bySweeps); err != nil {
		t.Fatalf("another owner: %v", err)
	}
	if err := submit(s, "x1", "", &cfpb.Quota{MaxSweeps: 0, MaxShards: 15}); err == nil ||
		err.Error() != "state: quota exceeded: the anonymous owner (no client certificate) has 0 unfinished shards and this sweep adds 16; the quota allows 15 at once (max_shards)" {
		t.Fatalf("anonymous over max_shards: %v", err)
	}
	// Cancelling frees a sweep; 16 pending shards remain in a2.
	mustApply(t, s, cmd(2, &cfpb.SetSweepState{SweepId: "a1", State: cfpb.SweepState_SWEEP_STATE_CANCELLED}))
	byShards := &cfpb.Quota{MaxSweeps: 5, MaxShards: 40}
	if err := submit(s, "a3", "alice", byShards); err != nil {
		t.Fatal(err)
	}
	err = submit(s, "a4", "alice", byShards)
	want = `state: quota exceeded: owner "alice" has 32 unfinished shards and this sweep adds 16; the quota allows 40 at once (max_shards)`
	if !errors.Is(err, ErrQuota) || err.Error() != want {
		t.Fatalf("over max_shards: %v\nwant %s", err, want)
	}
	if err := submit(restored(t, s), "a4", "alice", byShards); err == nil || err.Error() != want {
		t.Fatalf("restored replica: %v, want the same refusal", err)
	}
	finish(t, s, "a2", 3)
	if err := submit(s, "a4", "alice", byShards); err != nil {
		t.Fatalf("after a sweep finished: %v", err)
	}
	if sw, _ := s.Sweep("a4"); sw.Owner != "alice" {
		t.Fatalf("owner %q, want alice", sw.Owner)
	}
}
