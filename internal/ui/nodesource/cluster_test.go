package nodesource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/internal/ui"
	"github.com/clipformer/clipformer/internal/ui/nodesource"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// tlsCluster starts three coordinators with mutual TLS on their APIs and
// returns them with the certificate folder (identities c0..c2, alice and
// bob (clients), root (admin)).
func tlsCluster(t *testing.T) ([]*coordinator.Node, string) {
	t.Helper()
	dir := t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, id := range []struct{ name, role string }{{"c0", certs.RoleCoordinator}, {"c1", certs.RoleCoordinator}, {"c2", certs.RoleCoordinator},
		{"alice", certs.RoleClient}, {"bob", certs.RoleClient}, {"root", certs.RoleAdmin}} {
		if err := certs.Issue(dir, id.name, id.role, []string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	var peers []coordinator.Peer
	var lis []net.Listener
	for i := range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		raftAddr := r.Addr().String()
		r.Close()
		lis = append(lis, l)
		peers = append(peers, coordinator.Peer{ID: fmt.Sprintf("c%d", i), Raft: raftAddr, GRPC: l.Addr().String()})
	}
	var nodes []*coordinator.Node
	for i, p := range peers {
		server, client, err := certs.Load(certs.InDir(dir, p.ID))
		if err != nil {
			t.Fatal(err)
		}
		nd, err := coordinator.NewNode(coordinator.Config{ID: p.ID, RaftBind: p.Raft, GRPCAdvertise: p.GRPC, InMemory: true,
			Peers: peers, Embedded: true, Fast: true, RaftLog: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(coordinator.ServerOptions(server)...)
		nd.Register(srv, client)
		go srv.Serve(lis[i])
		t.Cleanup(func() { srv.Stop(); nd.Shutdown() })
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		err := nd.WaitLeader(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	return nodes, dir
}

// TestAFollowersDashboardSeesTheLeadersDataAndItsOwnerChecks submits
// alice's sweep through the API, then reads and acts through the Source of
// a follower: the figures come from the leader, and the leader checks the
// owner of the user the follower forwards for.
func TestAFollowersDashboardSeesTheLeadersDataAndItsOwnerChecks(t *testing.T) {
	nodes, dir := tlsCluster(t)
	var follower *coordinator.Node
	waitFor(t, "a leader that leads and a follower", func() bool {
		follower = nil
		leading := false
		for _, n := range nodes {
			leading = leading || n.Leading()
			if !n.IsLeader() {
				follower = n
			}
		}
		return leading && follower != nil
	})
	_, aliceTLS, err := certs.Load(certs.InDir(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	_, addr := follower.LeaderAPI()
	conn, err := grpc.NewClient(addr, coordinator.DialOptions(aliceTLS)...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	spec, err := sweep.Parse("t.yaml", []byte("model: {path: m, sha256: "+fmt.Sprintf("%064x", 1)+"}\ndataset: {kind: folder, path: x, limit: 40}\ngrid: {gamma: [0, 2]}\nimages_per_shard: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := cfpb.NewSweepsClient(conn).Submit(t.Context(), &cfpb.SubmitRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}

	src := nodesource.New(follower)
	ctx := t.Context()
	waitFor(t, "the follower's dashboard to list alice's sweep", func() bool {
		l, err := src.Sweeps(ctx)
		return err == nil && len(l) == 1 && l[0].Id == sw.Id && l[0].Owner == "alice"
	})
	waitFor(t, "the follower's replica to hold the shards", func() bool {
		sh, err := src.Shards(ctx, sw.Id)
		return err == nil && len(sh) == 8
	})
	bob, alice, root := ui.Caller{Role: ui.RoleClient, Name: "bob"}, ui.Caller{Role: ui.RoleClient, Name: "alice"}, ui.Caller{Role: ui.RoleAdmin, Name: "root"}
	if err := src.Act(ctx, bob, ui.ActionPause, sw.Id); !errors.Is(err, ui.ErrForbidden) {
		t.Errorf("bob pausing alice's sweep: %v, want ErrForbidden", err)
	}
	state := func() cfpb.SweepState {
		s, err := src.Sweep(ctx, sw.Id)
		if err != nil {
			t.Fatal(err)
		}
		return s.State
	}
	if st := state(); st != cfpb.SweepState_SWEEP_STATE_RUNNING {
		t.Fatalf("after bob's refused pause: %v", st)
	}
	if err := src.Act(ctx, alice, ui.ActionPause, sw.Id); err != nil {
		t.Fatalf("alice pausing her sweep: %v", err)
	}
	if st := state(); st != cfpb.SweepState_SWEEP_STATE_PAUSED {
		t.Errorf("after alice's pause: %v", st)
	}
	if err := src.Act(ctx, root, ui.ActionCancel, sw.Id); err != nil {
		t.Fatalf("an admin cancelling alice's sweep: %v", err)
	}
	if st := state(); st != cfpb.SweepState_SWEEP_STATE_CANCELLED {
		t.Errorf("after the admin's cancel: %v", st)
	}

	cl, err := src.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, c := range cl.Coordinators {
		if c.RaftState == "Leader" {
			leaders++
		}
		if c.RaftState == "" || c.Term == 0 || c.AppliedIndex == 0 {
			t.Errorf("coordinator %s: %+v", c.ID, c)
		}
	}
	if len(cl.Coordinators) != 3 || leaders != 1 {
		t.Errorf("cluster view: %d coordinators, %d leaders: %+v", len(cl.Coordinators), leaders, cl.Coordinators)
	}
}
