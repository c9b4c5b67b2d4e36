package coordinator_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// tlsCoordinator runs a one-node coordinator with mutual TLS and certificates
// for the given workers, and returns its address and the certificate folder.
func tlsCoordinator(t *testing.T, workers ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	if err := certs.Issue(dir, "coordinator", certs.RoleCoordinator, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		if err := certs.Issue(dir, w, certs.RoleWorker, nil); err != nil {
			t.Fatal(err)
		}
	}
	srvTLS, cliTLS, err := certs.Load(certs.InDir(dir, "coordinator"))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_, trans := raft.NewInmemTransport("c1")
	node, err := coordinator.NewNode(coordinator.Config{ID: "c1", GRPCAdvertise: addr, Transport: trans, InMemory: true, Fast: true,
		Embedded: true, RaftLog: io.Discard, Peers: []coordinator.Peer{{ID: "c1", Raft: "c1", GRPC: addr}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(coordinator.ServerOptions(srvTLS)...)
	node.Register(srv, cliTLS)
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Stop(); node.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !node.Leading() {
		if ctx.Err() != nil {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr, dir
}

// helloAs opens a Work stream with the named worker certificate, declares
// id and returns the coordinator's answer to Hello.
func helloAs(t *testing.T, addr, dir, cert, id string) (*cfpb.CoordinatorMessage, error) {
	t.Helper()
	_, cliTLS, err := certs.Load(certs.InDir(dir, cert))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cliTLS)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := cfpb.NewWorkClient(conn).Work(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Hello{Hello: &cfpb.Hello{WorkerId: id, Slots: 1}}}); err != nil {
		return nil, err
	}
	return stream.Recv()
}

// A worker's id is bound to its certificate: the holder of w2's
// certificate cannot open a session as w1 (and so cannot take over w1's
// leases or report its shards), but may use w2 and w2/anything.
func TestAWorkerCertificateCannotTakeOverAnothersSession(t *testing.T) {
	addr, dir := tlsCoordinator(t, "w1", "w2")
	if _, err := helloAs(t, addr, dir, "w2", "w1"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("w2's certificate as worker w1: %v; want PermissionDenied", err)
	}
	for _, id := range []string{"w2", "w2/gpu0"} {
		m, err := helloAs(t, addr, dir, "w2", id)
		if err != nil || m.GetWelcome() == nil {
			t.Fatalf("w2's certificate as worker %s: %v, %v; want a Welcome", id, m, err)
		}
	}
	// The worker package picks an id its certificate allows.
	_, cliTLS, err := certs.Load(certs.InDir(dir, "w2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := worker.IDFor(cliTLS, "w1"); got != "w2/w1" {
		t.Fatalf("IDFor(w2's certificate, w1) = %q, want w2/w1", got)
	}
}
