package coordinator

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Forwarding: any coordinator answers a client. The leader serves a call
// itself; a follower passes it on to the leader and relays the answer,
// unary or streamed; a node that knows no leader yet, or is taking up
// leadership, refuses for a moment (see refusal). Every client handler goes
// through forward or forwardStream; worker streams are not forwarded but
// refused with the leader's address (notLeader), because a worker's stream
// must end when the leader changes.

// forwarder keeps client connections to leaders, one per address.
type forwarder struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// conn returns the connection to addr, dialling it the first time.
func (f *forwarder) conn(addr string, dial func(string) (*grpc.ClientConn, error)) (*grpc.ClientConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.conns[addr]; ok {
		return c, nil
	}
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	if f.conns == nil {
		f.conns = map[string]*grpc.ClientConn{}
	}
	f.conns[addr] = c
	return c, nil
}

// close closes every connection.
func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, c := range f.conns {
		c.Close()
		delete(f.conns, addr)
	}
}

// leadOrForward returns the leader role when this node leads and serves,
// or else a connection to the leader to forward to.
func (n *Node) leadOrForward() (*leaderRole, grpc.ClientConnInterface, error) {
	if lr := n.leaderRole(); lr != nil {
		return lr, nil, nil
	}
	id, addr := n.LeaderAPI()
	switch {
	case id == "":
		return nil, nil, refusal("coordinator: no leader elected yet")
	case id == n.cfg.ID || n.IsLeader():
		return nil, nil, refusal("coordinator: taking up leadership; retry in a moment")
	case addr == "":
		return nil, nil, refusal("coordinator: leader %s has no known API address yet", id)
	}
	c, err := n.fwd.conn(addr, func(addr string) (*grpc.ClientConn, error) {
		return grpc.NewClient(addr, append(DialOptions(n.clientTLS), forwardDialOptions()...)...)
	})
	if err != nil {
		return nil, nil, refusal("coordinator: dial leader %s at %s: %v", id, addr, err)
	}
	return nil, c, nil
}

// forward runs a unary call: local on the leader, remote (the same call on
// the leader's connection) on a follower.
func forward[T any](n *Node, local func(*leaderRole) (T, error), remote func(grpc.ClientConnInterface) (T, error)) (T, error) {
	lr, conn, err := n.leadOrForward()
	if err != nil {
		var zero T
		return zero, err
	}
	if lr != nil {
		return local(lr)
	}
	return remote(conn)
}

// forwardStream runs a server-streaming call: local on the leader; on a
// follower it opens the same call on the leader and relays every message
// down until the leader's stream ends.
func forwardStream[T any](n *Node, down grpc.ServerStreamingServer[T], local func(*leaderRole) error,
	open func(context.Context, grpc.ClientConnInterface) (grpc.ServerStreamingClient[T], error)) error {
	lr, conn, err := n.leadOrForward()
	if err != nil {
		return err
	}
	if lr != nil {
		return local(lr)
	}
	// The relay ends when the node leaves, as the leader's own streams do.
	ctx, cancel := context.WithCancel(down.Context())
	defer cancel()
	go func() {
		select {
		case <-n.leaving:
			cancel()
		case <-ctx.Done():
		}
	}()
	up, err := open(ctx, conn)
	if err != nil {
		return err
	}
	for {
		m, err := up.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && isClosed(n.leaving) {
			return refusal("coordinator %s is stopping; call another", n.cfg.ID)
		}
		if err != nil {
			return err
		}
		if err := down.Send(m); err != nil {
			return err
		}
	}
}

// notLeader is the refusal a follower gives a worker stream, with the
// leader's address in a trailer so the worker goes straight there.
func (n *Node) notLeader(stream grpc.ServerStream) error {
	id, addr := n.LeaderAPI()
	if stream != nil && addr != "" {
		stream.SetTrailer(metadata.Pairs(LeaderTrailer, addr))
	}
	switch id {
	case "":
		return refusal("coordinator: no leader elected yet")
	case n.cfg.ID:
		return refusal("coordinator: taking up leadership; retry in a moment")
	}
	return status.Errorf(codes.FailedPrecondition, "coordinator %s is not the leader; the leader is %s at %s", n.cfg.ID, id, addr)
}
