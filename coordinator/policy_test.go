package coordinator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// ownedSpec is a small cluster spec (with the model checksum a cluster
// requires) that no worker runs in these tests.
const ownedSpec = "model: {path: m, sha256: " + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
	"}\ndataset: {kind: mnist, limit: 2}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"

// A sweep belongs to the client certificate that submitted it: another
// client may not cancel, pause, resume or delete it, an admin may, and a
// running sweep is deleted only after it is cancelled. Every call goes
// through a follower, so the owner is the caller the follower forwards.
func TestSweepsBelongToTheirSubmitterAndOnlyFinishedOnesAreDeleted(t *testing.T) {
	dir, peers := tlsCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	as := func(name string) cfpb.SweepsClient {
		conn, err := grpc.NewClient(peers[1].GRPC, coordinator.DialOptions(loadClient(t, dir, name))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return cfpb.NewSweepsClient(conn)
	}
	alice, bob, ops := as("alice"), as("bob"), as("ops")
	// retry waits out a passing refusal (a leader change under load).
	retry := func(f func(context.Context) error) error {
		return coordinator.Retry(ctx, retryWithin, coordinator.RetryRefusals, f)
	}
	sw := submit(t, alice, mustSpec(t, ownedSpec))
	if sw.Owner != "alice" {
		t.Fatalf("owner %q, want alice", sw.Owner)
	}
	ref := &cfpb.SweepRef{Id: sw.Id}
	want := func(what string, err error, code codes.Code, text string) {
		t.Helper()
		if status.Code(err) != code || !strings.Contains(err.Error(), text) {
			t.Fatalf("%s: %v; want %v naming %q", what, err, code, text)
		}
	}
	for verb, f := range map[string]func(context.Context, *cfpb.SweepRef, ...grpc.CallOption) (*cfpb.Sweep, error){
		"cancel": bob.Cancel, "pause": bob.Pause, "resume": bob.Resume} {
		err := retry(func(ctx context.Context) error { _, err := f(ctx, ref); return err })
		want("bob's "+verb, err, codes.PermissionDenied, `owner "alice"`)
	}
	err := retry(func(ctx context.Context) error { _, err := bob.Delete(ctx, ref); return err })
	want("bob's delete", err, codes.PermissionDenied, `owner "alice"`)
	err = retry(func(ctx context.Context) error { _, err := alice.Delete(ctx, ref); return err })
	want("deleting a running sweep", err, codes.FailedPrecondition, "cancel it")
	if err := retry(func(ctx context.Context) error { _, err := alice.Pause(ctx, ref); return err }); err != nil {
		t.Fatalf("alice pausing her sweep: %v", err)
	}
	if err := retry(func(ctx context.Context) error { _, err := alice.Cancel(ctx, ref); return err }); err != nil {
		t.Fatalf("alice cancelling her sweep: %v", err)
	}
	if err := retry(func(ctx context.Context) error { _, err := alice.Delete(ctx, ref); return err }); err != nil {
		t.Fatalf("alice deleting her cancelled sweep: %v", err)
	}
	err = retry(func(ctx context.Context) error { _, err := alice.Get(ctx, ref); return err })
	want("a deleted sweep", err, codes.NotFound, sw.Id)
	err = retry(func(ctx context.Context) error { _, err := alice.Delete(ctx, ref); return err })
	want("deleting again", err, codes.NotFound, sw.Id)

	// An admin may cancel and delete anyone's sweep.
	other := submit(t, alice, mustSpec(t, ownedSpec))
	if err := retry(func(ctx context.Context) error { _, err := ops.Cancel(ctx, &cfpb.SweepRef{Id: other.Id}); return err }); err != nil {
		t.Fatalf("admin cancelling alice's sweep: %v", err)
	}
	if err := retry(func(ctx context.Context) error { _, err := ops.Delete(ctx, &cfpb.SweepRef{Id: other.Id}); return err }); err != nil {
		t.Fatalf("admin deleting alice's sweep: %v", err)
	}
}

// Each owner may have so many sweeps and so many unfinished shards at
// once; a submission over either is refused at once, naming the limit.
func TestSubmissionsOverTheOwnersQuotaAreRefused(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true, QuotaSweeps: 2, QuotaShards: 5})
	c.leader(-1)
	sweeps, _ := c.client(0)
	spec := func(shards int) *cfpb.SweepSpec {
		return mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: "+string(rune('0'+shards))+"}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	}
	first := submit(t, sweeps, spec(3))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := sweeps.Submit(ctx, &cfpb.SubmitRequest{Spec: spec(3)})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "max_shards") || !strings.Contains(err.Error(), "allows 5") {
		t.Fatalf("a sweep over the shard quota: %v; want ResourceExhausted naming max_shards and its limit", err)
	}
	submit(t, sweeps, spec(2))
	_, err = sweeps.Submit(ctx, &cfpb.SubmitRequest{Spec: spec(1)})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "max_sweeps") || !strings.Contains(err.Error(), "allows 2") {
		t.Fatalf("a third sweep: %v; want ResourceExhausted naming max_sweeps and its limit", err)
	}
	if _, err := sweeps.Cancel(ctx, &cfpb.SweepRef{Id: first.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := sweeps.Submit(ctx, &cfpb.SubmitRequest{Spec: spec(1)}); err != nil {
		t.Fatalf("a sweep within the quota once one was cancelled: %v", err)
	}
}

// A finished sweep is deleted once the retention period has passed since
// it finished; an unfinished one stays.
func TestFinishedSweepsExpireAfterTheRetentionPeriod(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true, Retention: 300 * time.Millisecond})
	c.leader(-1)
	sweeps, _ := c.client(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	finished := submit(t, sweeps, mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 1}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"))
	running := submit(t, sweeps, mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 1}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"))
	if _, err := sweeps.Cancel(ctx, &cfpb.SweepRef{Id: finished.Id}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := sweeps.Get(ctx, &cfpb.SweepRef{Id: finished.Id})
		if status.Code(err) == codes.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a sweep cancelled 10 s ago with a retention of 300 ms: %v; want it deleted (NotFound)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := sweeps.Get(ctx, &cfpb.SweepRef{Id: running.Id}); err != nil {
		t.Fatalf("the running sweep: %v; want it kept", err)
	}
}

// A message over coordinator.MaxRequestBytes is refused by gRPC before it
// is decoded, and a spec over sweep.MaxSpecBytes by Submit before any
// work on it.
func TestOversizedRequestsAreRefusedAtOnce(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true})
	c.leader(-1)
	sweeps, _ := c.client(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	named := func(bytes int) *cfpb.SubmitRequest {
		spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 1}\ngrid: {gamma: [0]}\n")
		spec.Name = strings.Repeat("x", bytes)
		return &cfpb.SubmitRequest{Spec: spec}
	}
	_, err := sweeps.Submit(ctx, named(coordinator.MaxRequestBytes+1))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a request over %d bytes: %v; want ResourceExhausted", coordinator.MaxRequestBytes, err)
	}
	_, err = sweeps.Submit(ctx, named(coordinator.MaxRequestBytes/2+1))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "refused unread") {
		t.Fatalf("a spec over the spec limit: %v; want InvalidArgument, refused unread", err)
	}
}
