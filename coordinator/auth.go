package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/internal/certs"
)

// Roles a peer may have; see package certs. A role comes from the peer's
// verified certificate, never from a message.
const (
	RoleCoordinator = certs.RoleCoordinator
	RoleWorker      = certs.RoleWorker
	RoleClient      = certs.RoleClient
	RoleAdmin       = certs.RoleAdmin
)

// insecureName is the identity every caller has in plain-text mode
// (--insecure), where nothing can be verified and anyone may do anything.
const insecureName = "insecure"

// callerMetadata carries, from a forwarding coordinator to the leader, the
// identity the forwarding coordinator verified: "ROLE/NAME". The leader
// believes it only from a peer holding a coordinator certificate.
const callerMetadata = "clipformer-caller"

// errNoIdentity marks a context that went through no authorization.
var errNoIdentity = errors.New("coordinator: no caller identity (the call bypassed the auth interceptors)")

// Role sets, for the table below.
var (
	users      = []string{RoleClient, RoleAdmin}
	admins     = []string{RoleAdmin}
	workers    = []string{RoleWorker}
	everyone   = []string{RoleCoordinator, RoleWorker, RoleClient, RoleAdmin}
	usersPeers = []string{RoleClient, RoleAdmin, RoleCoordinator}
)

// methodRoles says which roles may call each RPC, by full method name. A
// method missing here is refused: deny by default. A call a coordinator
// forwards is checked against the role of the caller it forwards for; a
// coordinator calling on its own behalf has only the roles listed with
// RoleCoordinator (it reads a new member's commit index with Status).
var methodRoles = map[string][]string{
	"/clipformer.v1.Sweeps/Submit":  users,
	"/clipformer.v1.Sweeps/Get":     users,
	"/clipformer.v1.Sweeps/List":    users,
	"/clipformer.v1.Sweeps/Watch":   users,
	"/clipformer.v1.Sweeps/Results": users,
	"/clipformer.v1.Sweeps/Pause":   users,
	"/clipformer.v1.Sweeps/Resume":  users,
	// Cancelling another's sweep needs admin: the handler checks the owner.
	"/clipformer.v1.Sweeps/Cancel": users,
	// The same holds for deleting one.
	"/clipformer.v1.Sweeps/Delete": users,

	"/clipformer.v1.Work/Work": workers,

	"/clipformer.v1.Cluster/Status":            usersPeers,
	"/clipformer.v1.Cluster/AddCoordinator":    admins,
	"/clipformer.v1.Cluster/RemoveCoordinator": admins,

	"/grpc.health.v1.Health/Check": everyone,
	"/grpc.health.v1.Health/Watch": everyone,
	"/grpc.health.v1.Health/List":  everyone,
}

// identity is who is calling: the role and name of a verified certificate,
// and the coordinator that forwarded the call, if one did.
type identity struct {
	role, name string
	via        string
	// insecure marks plain-text mode, where every check passes.
	insecure bool
}

func (id identity) String() string {
	s := fmt.Sprintf("%s %q", id.role, id.name)
	if id.via != "" {
		s += fmt.Sprintf(" (forwarded by coordinator %q)", id.via)
	}
	return s
}

// identityKey carries the caller's identity in a request context.
type identityKey struct{}

// callerIdentity returns the role and name of the caller of the request in
// ctx, as the auth interceptors verified them: for a call a coordinator
// forwarded, the original caller's. In plain-text mode every caller is an
// admin named "insecure".
func callerIdentity(ctx context.Context) (role, name string, err error) {
	id, ok := ctx.Value(identityKey{}).(identity)
	if !ok {
		return "", "", errNoIdentity
	}
	return id.role, id.name, nil
}

// callerOwner is the owner a sweep submitted by the caller in ctx gets:
// its certificate's name, or "" in plain-text mode, where no caller can be
// told apart.
func callerOwner(ctx context.Context) (string, error) {
	_, owner, err := callerOwnerRole(ctx)
	return owner, err
}

// callerOwnerRole is callerOwner with the caller's role; in plain-text
// mode the role is admin.
func callerOwnerRole(ctx context.Context) (role, owner string, err error) {
	id, ok := ctx.Value(identityKey{}).(identity)
	if !ok {
		return "", "", status.Error(codes.PermissionDenied, errNoIdentity.Error())
	}
	if id.insecure {
		return id.role, "", nil
	}
	return id.role, id.name, nil
}

// authorize finds the caller's identity in its certificate and checks it
// against methodRoles. It returns ctx carrying the identity.
func authorize(ctx context.Context, method string) (context.Context, error) {
	id, err := verifiedIdentity(ctx)
	if err != nil {
		return ctx, err
	}
	allowed, known := methodRoles[method]
	if id.insecure {
		return context.WithValue(ctx, identityKey{}, id), nil
	}
	if !known {
		return ctx, status.Errorf(codes.PermissionDenied, "coordinator: %s may not call %s: the method is unknown, and unknown methods are refused", id, method)
	}
	for _, r := range allowed {
		if r == id.role {
			return context.WithValue(ctx, identityKey{}, id), nil
		}
	}
	return ctx, status.Errorf(codes.PermissionDenied, "coordinator: %s may not call %s (allowed: %s)", id, method, strings.Join(allowed, ", "))
}

// verifiedIdentity reads the identity of the peer in ctx from its verified
// certificate, or, for a coordinator forwarding a call, from the metadata
// that coordinator added.
func verifiedIdentity(ctx context.Context) (identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return identity{}, status.Error(codes.Unauthenticated, "coordinator: no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		// Plain text was chosen explicitly (--insecure): nobody can be told
		// apart, so nobody is held back.
		return identity{role: RoleAdmin, name: insecureName, insecure: true}, nil
	}
	chains := ti.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return identity{}, status.Error(codes.Unauthenticated, "coordinator: a client certificate signed by the cluster CA is required")
	}
	role, name, err := certs.IdentityOf(chains[0][0])
	if err != nil {
		return identity{}, status.Errorf(codes.Unauthenticated, "coordinator: %v", err)
	}
	id := identity{role: role, name: name}
	if role != RoleCoordinator {
		return id, nil
	}
	fwd, ok, err := forwardedIdentity(ctx)
	if err != nil {
		return identity{}, status.Errorf(codes.InvalidArgument, "coordinator: call forwarded by coordinator %q: %v", name, err)
	}
	if ok {
		fwd.via = name
		return fwd, nil
	}
	return id, nil
}

// forwardedIdentity parses the callerMetadata a coordinator sent.
func forwardedIdentity(ctx context.Context) (identity, bool, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(callerMetadata)
	switch len(vals) {
	case 0:
		return identity{}, false, nil
	case 1:
	default:
		return identity{}, false, fmt.Errorf("%d %s values, want one", len(vals), callerMetadata)
	}
	role, name, ok := strings.Cut(vals[0], "/")
	if !ok || role == "" || name == "" {
		return identity{}, false, fmt.Errorf("%s %q: want ROLE/NAME", callerMetadata, vals[0])
	}
	if role == RoleCoordinator {
		// A coordinator forwards for users, never for itself.
		return identity{}, false, fmt.Errorf("%s %q: a forwarded call is never a coordinator's", callerMetadata, vals[0])
	}
	return identity{role: role, name: name}, true, nil
}

// withCallerMetadata puts the identity of the call in ctx into the outgoing
// metadata, replacing any there, so that the leader checks the original
// caller and not the forwarding coordinator.
func withCallerMetadata(ctx context.Context) context.Context {
	id, ok := ctx.Value(identityKey{}).(identity)
	if !ok || id.role == RoleCoordinator || id.insecure {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(callerMetadata, id.role+"/"+id.name)
	return metadata.NewOutgoingContext(ctx, md)
}

// authUnary is the unary server interceptor of authorize.
func authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// authStream is the stream server interceptor of authorize.
func authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}

// ctxStream is a server stream with a context of our own.
type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// forwardUnaryInterceptor and forwardStreamInterceptor are the client interceptors of connections
// to the leader: they carry the caller's identity along.
func forwardUnaryInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(withCallerMetadata(ctx), method, req, reply, cc, opts...)
}

func forwardStreamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(withCallerMetadata(ctx), desc, cc, method, opts...)
}

// forwardDialOptions are added to DialOptions for a coordinator's
// connections to other coordinators.
func forwardDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(forwardUnaryInterceptor), grpc.WithChainStreamInterceptor(forwardStreamInterceptor)}
}

// requireRole re-checks a role inside a handler (defence in depth for code
// paths that could be reached without the interceptors).
func requireRole(ctx context.Context, role string) error {
	id, ok := ctx.Value(identityKey{}).(identity)
	switch {
	case !ok:
		return status.Error(codes.PermissionDenied, errNoIdentity.Error())
	case id.insecure || id.role == role:
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "coordinator: %s may not do this; it needs a %s certificate", id, role)
}
