package coordinator_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
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

// TestMutualTLSOnRaftAndAPI runs three coordinators over real TCP raft
// transports wrapped in mutual TLS, and checks who may call what.
func TestMutualTLSOnRaftAndAPI(t *testing.T) {
	dir := t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{certs.RoleCoordinator, certs.RoleWorker, certs.RoleClient} {
		if err := certs.Issue(dir, r, r, []string{"localhost", "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	// A certificate from another CA.
	other := t.TempDir()
	certs.CreateCA(other)
	certs.Issue(other, "client", certs.RoleClient, []string{"127.0.0.1"})

	srvTLS, cliTLS, err := certs.Load(certs.InDir(dir, "coordinator"))
	if err != nil {
		t.Fatal(err)
	}
	var peers []coordinator.Peer
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

	call := func(tlsCfg *tls.Config, f func(*grpc.ClientConn) error) error {
		conn, err := grpc.NewClient(peers[1].GRPC, coordinator.DialOptions(tlsCfg)...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return f(conn)
	}
	list := func(conn *grpc.ClientConn) error {
		_, err := cfpb.NewSweepsClient(conn).List(ctx, &cfpb.ListRequest{})
		return err
	}
	_, clientTLS, _ := certs.Load(certs.InDir(dir, "client"))
	_, workerTLS, _ := certs.Load(certs.InDir(dir, "worker"))
	_, strangerTLS, _ := certs.Load(certs.InDir(other, "client"))
	noCert := clientTLS.Clone()
	noCert.Certificates = nil

	if err := call(clientTLS, list); err != nil {
		t.Fatalf("client certificate refused: %v", err)
	}
	if err := call(noCert, list); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no certificate: %v, want Unauthenticated", err)
	}
	if err := call(workerTLS, list); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("worker certificate listing sweeps: %v, want PermissionDenied", err)
	}
	if err := call(strangerTLS, list); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	if err := call(nil, list); err == nil {
		t.Fatal("plain text was accepted by a TLS coordinator")
	}
	// A client's Work stream is refused: only workers pull work.
	err = call(clientTLS, func(conn *grpc.ClientConn) error {
		s, err := cfpb.NewWorkClient(conn).Work(ctx)
		if err != nil {
			return err
		}
		s.Send(&cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Hello{Hello: &cfpb.Hello{WorkerId: "x", Slots: 1}}})
		_, err = s.Recv()
		return err
	})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("client opening a Work stream: %v, want PermissionDenied", err)
	}
}
