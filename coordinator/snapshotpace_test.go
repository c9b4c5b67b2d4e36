package coordinator

import (
	"strconv"
	"testing"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

func TestSnapshotThresholdFollowsTheSnapshotSize(t *testing.T) {
	var p snapshotPacer
	if got := p.threshold(1 << 30); got != snapshotBaseThreshold {
		t.Fatalf("with no entries seen: threshold %d, want the base %d", got, snapshotBaseThreshold)
	}
	for range 10 {
		p.applied(1000)
	}
	if got := p.threshold(1 << 20); got != snapshotBaseThreshold {
		t.Fatalf("a small snapshot: threshold %d, want the base %d", got, snapshotBaseThreshold)
	}
	// 100 MB of snapshot at 1,000 bytes an entry: 50 MB of log.
	if got, want := p.threshold(100_000_000), uint64(50_000); got != want {
		t.Fatalf("a 100 MB snapshot: threshold %d, want %d", got, want)
	}
}

// A snapshot of a big state raises raft's threshold, so that the next
// snapshot waits for log worth half of it.
func TestABigSnapshotRaisesRaftsSnapshotThreshold(t *testing.T) {
	n := singleNode(t, Config{})
	const shards = 300_000
	spec, err := sweep.Parse("big.yaml", []byte("model: {path: m}\ndataset: {kind: folder, path: x, limit: "+strconv.Itoa(shards)+"}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	sweep.ApplyDefaults(spec)
	if _, err := n.Apply(&cfpb.Command{Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{SweepId: "s", Spec: spec}}}); err != nil {
		t.Fatal(err)
	}
	if got := n.raft.ReloadableConfig().SnapshotThreshold; got != snapshotBaseThreshold {
		t.Fatalf("before any snapshot: threshold %d, want %d", got, snapshotBaseThreshold)
	}
	f := n.raft.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	mean := float64(n.pace.bytes.Load()) / float64(n.pace.entries.Load())
	want := uint64(snapshotLogShare * float64(meta.Size) / mean)
	if want <= snapshotBaseThreshold {
		t.Fatalf("the test's state is too small: a %d-byte snapshot at %.0f bytes an entry", meta.Size, mean)
	}
	if got := n.raft.ReloadableConfig().SnapshotThreshold; got != want {
		t.Fatalf("after a %d-byte snapshot: threshold %d, want %d", meta.Size, got, want)
	}
}
