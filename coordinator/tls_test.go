package coordinator_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/proto/cfpb"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// tlsCluster issues a coordinator identity, a worker w1, clients alice and
// bob and an admin ops, and runs three coordinators over real TCP raft
// transports wrapped in mutual TLS. It returns the certificate folder and
// the coordinators' addresses.
func tlsCluster(t *testing.T) (dir string, peers []coordinator.Peer) {
	t.Helper()
	dir = t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, id := range []struct{ name, role string }{
		{"coordinator", certs.RoleCoordinator}, {"w1", certs.RoleWorker}, {"alice", certs.RoleClient}, {"bob", certs.RoleClient}, {"ops", certs.RoleAdmin},
	} {
		if err := certs.Issue(dir, id.name, id.role, []string{"localhost", "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	srvTLS, cliTLS, err := certs.Load(certs.InDir(dir, "coordinator"))
	if err != nil {
		t.Fatal(err)
	}
	var lis []net.Listener
	for i := 0; i < 3; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis = append(lis, l)
		peers = append(peers, coordinator.Peer{ID: fmt.Sprintf("c%d", i), Raft: freeAddr(t), GRPC: l.Addr().String()})
	}
	var nodes []*coordinator.Node
	for i := 0; i < 3; i++ {
		n, err := coordinator.NewNode(coordinator.Config{ID: peers[i].ID, RaftBind: peers[i].Raft, GRPCAdvertise: peers[i].GRPC,
			DataDir: t.TempDir(), Peers: peers, RaftTLS: &coordinator.TLSPair{Server: srvTLS, Client: cliTLS}, Fast: true, RaftLog: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(coordinator.ServerOptions(srvTLS)...)
		n.Register(srv, cliTLS)
		go srv.Serve(lis[i])
		nodes = append(nodes, n)
		t.Cleanup(func() { srv.Stop(); n.Shutdown() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitLeader(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return dir, peers
}

// loadClient is the client TLS config of an identity in dir.
func loadClient(t *testing.T, dir, name string) *tls.Config {
	t.Helper()
	_, c, err := certs.Load(certs.InDir(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMutualTLSRolesOnEveryCoordinator checks who may call what, on the
// leader and on the followers that forward to it.
func TestMutualTLSRolesOnEveryCoordinator(t *testing.T) {
	dir, peers := tlsCluster(t)
	// A certificate of another CA.
	other := t.TempDir()
	certs.CreateCA(other)
	certs.Issue(other, "alice", certs.RoleClient, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// call waits out a passing refusal (a leader change under load), as
	// the command-line client does; every other answer is the verdict.
	call := func(addr string, tlsCfg *tls.Config, f func(*grpc.ClientConn) error) error {
		conn, err := grpc.NewClient(addr, coordinator.DialOptions(tlsCfg)...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return coordinator.Retry(ctx, retryWithin, coordinator.RetryRefusals, func(context.Context) error { return f(conn) })
	}
	list := func(conn *grpc.ClientConn) error {
		_, err := cfpb.NewSweepsClient(conn).List(ctx, &cfpb.ListRequest{})
		return err
	}
	// An empty AddCoordinator is refused by the leader as InvalidArgument
	// once the caller's rights are granted: it changes nothing.
	addEmpty := func(conn *grpc.ClientConn) error {
		_, err := cfpb.NewClusterClient(conn).AddCoordinator(ctx, &cfpb.AddCoordinatorRequest{})
		return err
	}
	work := func(conn *grpc.ClientConn) error {
		s, err := cfpb.NewWorkClient(conn).Work(ctx)
		if err != nil {
			return err
		}
		s.Send(&cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Hello{Hello: &cfpb.Hello{WorkerId: "x", Slots: 1}}})
		_, err = s.Recv()
		return err
	}
	clientTLS, workerTLS, adminTLS := loadClient(t, dir, "alice"), loadClient(t, dir, "w1"), loadClient(t, dir, "ops")
	coordTLS := loadClient(t, dir, "coordinator")
	strangerTLS := loadClient(t, other, "alice")
	noCert := clientTLS.Clone()
	noCert.Certificates = nil

	for _, p := range peers {
		if err := call(p.GRPC, clientTLS, list); err != nil {
			t.Errorf("%s: client listing sweeps: %v", p.ID, err)
		}
		if err := call(p.GRPC, adminTLS, list); err != nil {
			t.Errorf("%s: admin listing sweeps: %v", p.ID, err)
		}
		if err := call(p.GRPC, workerTLS, list); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: worker listing sweeps: %v, want PermissionDenied", p.ID, err)
		}
		// A coordinator certificate acts for others only when it forwards.
		if err := call(p.GRPC, coordTLS, list); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: coordinator listing sweeps on its own behalf: %v, want PermissionDenied", p.ID, err)
		}
		// Membership: admins only, also through a follower's forwarding.
		err := call(p.GRPC, clientTLS, addEmpty)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `client "alice" may not call /clipformer.v1.Cluster/AddCoordinator`) {
			t.Errorf("%s: client adding a coordinator: %v, want PermissionDenied naming the role and the method", p.ID, err)
		}
		if err := call(p.GRPC, adminTLS, addEmpty); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: admin adding a coordinator: %v, want the leader's InvalidArgument", p.ID, err)
		}
		if err := call(p.GRPC, clientTLS, work); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: client opening a Work stream: %v, want PermissionDenied", p.ID, err)
		}
	}
	addr := peers[1].GRPC
	if err := call(addr, noCert, list); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no certificate: %v, want Unauthenticated", err)
	}
	if err := call(addr, strangerTLS, list); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	if err := call(addr, nil, list); err == nil {
		t.Fatal("plain text was accepted by a TLS coordinator")
	}
}

// TestRaftPortRefusesClientAndWorkerCertificates dials a coordinator's raft
// port with each identity: only a coordinator certificate gets through the
// handshake; the others are refused before raft reads a byte.
func TestRaftPortRefusesClientAndWorkerCertificates(t *testing.T) {
	dir, peers := tlsCluster(t)
	dialRaft := func(name string) error {
		cfg := loadClient(t, dir, name)
		cfg.ServerName = "127.0.0.1"
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", peers[0].Raft, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		// Under TLS 1.3 the server judges the client's certificate after
		// the client's handshake ends: its verdict arrives on the first read.
		if _, err := conn.Write([]byte{0}); err != nil {
			return err
		}
		_, err = conn.Read(make([]byte, 1))
		return err
	}
	for _, name := range []string{"w1", "alice", "ops"} {
		if err := dialRaft(name); err == nil || !strings.Contains(err.Error(), "bad certificate") {
			t.Errorf("%s certificate on the raft port: %v, want the handshake refused (bad certificate)", name, err)
		}
	}
	// A coordinator certificate passes the handshake; raft then drops the
	// connection over the meaningless byte, which is not a TLS refusal.
	if err := dialRaft("coordinator"); err != nil && strings.Contains(err.Error(), "bad certificate") {
		t.Errorf("coordinator certificate refused on the raft port: %v", err)
	}
}
