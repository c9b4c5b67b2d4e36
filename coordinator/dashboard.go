package coordinator

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// What a dashboard served by this process needs from its node. The
// dashboard authenticates its users itself (package ui) and then acts
// through the same handlers as a gRPC call of that user: the owner checks,
// the forwarding of a follower to the leader and the leader's live figures
// are the API's.

// AsCaller returns ctx carrying the identity of a user the caller has
// authenticated, for the node's in-process services (Sweeps). On a node
// without TLS every caller is the anonymous admin a plain-text gRPC call
// is, whatever role and name say.
func (n *Node) AsCaller(ctx context.Context, role, name string) context.Context {
	if n.clientTLS == nil {
		return context.WithValue(ctx, identityKey{}, identity{role: RoleAdmin, name: insecureName, insecure: true})
	}
	return context.WithValue(ctx, identityKey{}, identity{role: role, name: name})
}

// Sweeps is the node's Sweeps service for in-process unary calls with a
// context from AsCaller (streaming calls need a gRPC stream).
func (n *Node) Sweeps() cfpb.SweepsServer { return &sweepsService{n: n} }

// EachShard visits a sweep's shards in this node's replica (a follower's
// may be a few commands behind the leader's); see state.EachShard.
func (n *Node) EachShard(sweepID string, f func(k, total int, b state.ShardBrief)) error {
	return grpcErr(n.st.EachShard(sweepID, f))
}

// Changed returns a channel that is closed when the node next applies a
// command.
func (n *Node) Changed() <-chan struct{} { return n.changed() }

// PeerStatus asks the coordinator at grpcAddr for its ClusterStatus, with
// this node's own credentials, over the connection forwarding uses.
func (n *Node) PeerStatus(ctx context.Context, grpcAddr string) (*cfpb.ClusterStatus, error) {
	c, err := n.fwd.conn(grpcAddr, func(addr string) (*grpc.ClientConn, error) {
		return grpc.NewClient(addr, append(DialOptions(n.clientTLS), forwardDialOptions()...)...)
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return cfpb.NewClusterClient(c).Status(ctx, &cfpb.ClusterStatusRequest{})
}
