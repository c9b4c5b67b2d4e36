package coordinator

import (
	"bytes"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// FuzzDecodeCommand feeds arbitrary raft entries to the state machine: a
// malformed one is refused with an error on every replica alike, and never
// panics or corrupts the state.
func FuzzDecodeCommand(f *testing.F) {
	spec, err := sweep.Parse("f.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 20}\ngrid: {gamma: [1, 2]}\nimages_per_shard: 5\n"))
	if err != nil {
		f.Fatal(err)
	}
	seeds := []*cfpb.Command{
		{NowNs: 1, Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{SweepId: "s", Spec: spec}}},
		{NowNs: 2, Cmd: &cfpb.Command_Assign{Assign: &cfpb.AssignShards{Assignments: []*cfpb.Assignment{{SweepId: "s", Shard: 1, Worker: "w"}}}}},
		{NowNs: 3, Cmd: &cfpb.Command_Complete{Complete: &cfpb.CompleteShards{Results: []*cfpb.ShardResult{{SweepId: "s", Shard: 1, Summary: &cfpb.Summary{Images: 5}}}}}},
		{NowNs: 4, Cmd: &cfpb.Command_Release{Release: &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "s", Shard: 2, LeaseId: 1}}}}},
		{NowNs: 5, Cmd: &cfpb.Command_SetState{SetState: &cfpb.SetSweepState{SweepId: "s", State: cfpb.SweepState_SWEEP_STATE_CANCELLED}}},
		{NowNs: 6, Cmd: &cfpb.Command_Complete{Complete: &cfpb.CompleteShards{Failures: []*cfpb.Release{{SweepId: "s", Shard: 1, LeaseId: 1, Error: "e"}}}}},
		{NowNs: 7, Cmd: &cfpb.Command_Release{Release: &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "s", Shard: 1, LeaseId: 1,
			Reason: cfpb.ReleaseReason_RELEASE_REASON_STALLED, Error: "stuck"}}}}},
		{NowNs: 8, Cmd: &cfpb.Command_Delete{Delete: &cfpb.DeleteSweep{SweepId: "s"}}},
		{NowNs: 9, Cmd: &cfpb.Command_Expire{Expire: &cfpb.ExpireSweeps{RetentionNs: 1}}},
	}
	for _, c := range seeds {
		b, _ := proto.Marshal(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := &fsm{st: state.New()}
		c := &fsm{st: state.New()}
		// Both replicas see a valid submit first, then the fuzzed entry.
		first, _ := proto.Marshal(seeds[0])
		for _, m := range []*fsm{a, c} {
			m.Apply(&raft.Log{Type: raft.LogCommand, Data: first})
			r, _ := m.Apply(&raft.Log{Type: raft.LogCommand, Data: b}).(*state.Response)
			if r == nil {
				t.Fatal("no response")
			}
		}
		snap := snapshot(t, a.st)
		if !bytes.Equal(snap, snapshot(t, c.st)) {
			t.Fatal("two replicas applying the same entry diverged")
		}
		// The state still snapshots and restores, to the same state.
		r := state.New()
		if err := r.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatalf("state after entry does not restore: %v", err)
		}
		if !bytes.Equal(snap, snapshot(t, r)) {
			t.Fatal("the restored state differs")
		}
	})
}

func snapshot(t testing.TB, st *state.State) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := st.Capture().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
