package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/internal/certs"
)

// peerCerts issues one identity per role and returns each one's
// certificate, as a verified peer would present it.
func peerCerts(t *testing.T) map[string]*x509.Certificate {
	t.Helper()
	dir := t.TempDir()
	if err := certs.CreateCA(dir); err != nil {
		t.Fatal(err)
	}
	out := map[string]*x509.Certificate{}
	for _, id := range []struct{ name, role string }{{"c1", RoleCoordinator}, {"w1", RoleWorker}, {"alice", RoleClient}, {"ops", RoleAdmin}} {
		if err := certs.Issue(dir, id.name, id.role, []string{"c1"}); err != nil {
			t.Fatal(err)
		}
		f := certs.InDir(dir, id.name)
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		if out[id.role], err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// asPeer is a server context whose peer presented c over verified TLS (c
// nil: plain text), with optional incoming metadata.
func asPeer(c *x509.Certificate, md ...string) context.Context {
	var auth credentials.AuthInfo
	if c != nil {
		auth = credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c}}, PeerCertificates: []*x509.Certificate{c}}}
	}
	ctx := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: auth})
	if len(md) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	return ctx
}

func TestEachRoleMayCallOnlyItsMethods(t *testing.T) {
	c := peerCerts(t)
	const (
		submit = "/clipformer.v1.Sweeps/Submit"
		list   = "/clipformer.v1.Sweeps/List"
		cancel = "/clipformer.v1.Sweeps/Cancel"
		del    = "/clipformer.v1.Sweeps/Delete"
		work   = "/clipformer.v1.Work/Work"
		clStat = "/clipformer.v1.Cluster/Status"
		add    = "/clipformer.v1.Cluster/AddCoordinator"
		remove = "/clipformer.v1.Cluster/RemoveCoordinator"
		health = "/grpc.health.v1.Health/Check"
	)
	allow := map[string][]string{
		RoleWorker:      {work, health},
		RoleClient:      {submit, list, cancel, del, clStat, health},
		RoleAdmin:       {submit, list, cancel, del, clStat, add, remove, health},
		RoleCoordinator: {clStat, health}, // on its own behalf; forwarding is below
	}
	for role, methods := range allow {
		ok := map[string]bool{}
		for _, m := range methods {
			ok[m] = true
		}
		for _, m := range []string{submit, list, cancel, del, work, clStat, add, remove, health, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"} {
			_, err := authorize(asPeer(c[role]), m)
			if ok[m] && err != nil {
				t.Errorf("%s calling %s: %v, want allowed", role, m, err)
			}
			if !ok[m] {
				if status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s calling %s: %v, want PermissionDenied", role, m, err)
				} else if !strings.Contains(err.Error(), role) || !strings.Contains(err.Error(), m) {
					t.Errorf("%s calling %s: refusal %q names neither the role nor the method", role, m, err)
				}
			}
		}
	}
}

func TestForwardedCallsAreCheckedAsTheOriginalCaller(t *testing.T) {
	c := peerCerts(t)
	const add, list = "/clipformer.v1.Cluster/AddCoordinator", "/clipformer.v1.Sweeps/List"
	// A coordinator forwarding for a client: the client's rights, not its own.
	ctx, err := authorize(asPeer(c[RoleCoordinator], callerMetadata, "client/alice"), list)
	if err != nil {
		t.Fatalf("forwarded client List: %v", err)
	}
	if role, name, err := callerIdentity(ctx); role != RoleClient || name != "alice" || err != nil {
		t.Fatalf("callerIdentity of a forwarded call = %q %q %v, want client alice", role, name, err)
	}
	if _, err := authorize(asPeer(c[RoleCoordinator], callerMetadata, "client/alice"), add); status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(err.Error(), `forwarded by coordinator "c1"`) {
		t.Fatalf("forwarded client AddCoordinator: %v, want PermissionDenied naming the forwarder", err)
	}
	if _, err := authorize(asPeer(c[RoleCoordinator], callerMetadata, "admin/ops"), add); err != nil {
		t.Fatalf("forwarded admin AddCoordinator: %v", err)
	}
	// Only a coordinator may speak for someone else.
	ctx, err = authorize(asPeer(c[RoleClient], callerMetadata, "admin/ops"), list)
	if err != nil {
		t.Fatal(err)
	}
	if role, name, _ := callerIdentity(ctx); role != RoleClient || name != "alice" {
		t.Fatalf("a client claiming to be admin/ops became %s %s", role, name)
	}
	if _, err := authorize(asPeer(c[RoleClient], callerMetadata, "admin/ops"), add); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a client claiming admin in metadata: %v, want PermissionDenied", err)
	}
	for _, bad := range []string{"coordinator/c2", "admin", "/ops", "admin/"} {
		if _, err := authorize(asPeer(c[RoleCoordinator], callerMetadata, bad), list); status.Code(err) != codes.InvalidArgument {
			t.Errorf("forwarded identity %q: %v, want InvalidArgument", bad, err)
		}
	}
}

func TestWithCallerMetadataCarriesTheVerifiedCallerOnly(t *testing.T) {
	c := peerCerts(t)
	ctx, err := authorize(asPeer(c[RoleClient]), "/clipformer.v1.Sweeps/List")
	if err != nil {
		t.Fatal(err)
	}
	// Whatever the outgoing context held is replaced.
	ctx = metadata.AppendToOutgoingContext(ctx, callerMetadata, "admin/ops")
	md, _ := metadata.FromOutgoingContext(withCallerMetadata(ctx))
	if got := md.Get(callerMetadata); len(got) != 1 || got[0] != "client/alice" {
		t.Fatalf("forwarded %s = %v, want [client/alice]", callerMetadata, got)
	}
	// A coordinator's own call carries nothing.
	ctx, _ = authorize(asPeer(c[RoleCoordinator]), "/clipformer.v1.Cluster/Status")
	md, _ = metadata.FromOutgoingContext(withCallerMetadata(ctx))
	if got := md.Get(callerMetadata); len(got) != 0 {
		t.Fatalf("a coordinator's own call forwarded %v", got)
	}
}

func TestPlainTextAndMissingCertificates(t *testing.T) {
	// --insecure: everyone may do everything, as an admin named "insecure".
	ctx, err := authorize(asPeer(nil), "/clipformer.v1.Work/Work")
	if err != nil {
		t.Fatalf("plain text: %v", err)
	}
	if err := requireRole(ctx, RoleWorker); err != nil {
		t.Fatalf("plain text requireRole: %v", err)
	}
	if role, name, _ := callerIdentity(ctx); role != RoleAdmin || name != insecureName {
		t.Fatalf("plain-text caller = %s %s", role, name)
	}
	// TLS without a client certificate.
	noCert := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{}})
	if _, err := authorize(noCert, "/clipformer.v1.Sweeps/List"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no certificate: %v, want Unauthenticated", err)
	}
	if _, err := authorize(context.Background(), "/clipformer.v1.Sweeps/List"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no peer: %v, want Unauthenticated", err)
	}
	// A handler reached without the interceptors refuses.
	if err := requireRole(context.Background(), RoleWorker); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("requireRole without an identity: %v", err)
	}
	if _, _, err := callerIdentity(context.Background()); err == nil {
		t.Fatal("callerIdentity without the interceptors succeeded")
	}
}
