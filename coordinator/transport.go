package coordinator

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/clipformer/clipformer/internal/certs"
)

// newTransport is raft's TCP transport on bind, advertising advertise,
// wrapped in mutual TLS when pair is set.
func newTransport(bind, advertise string, pair *TLSPair) (*raft.NetworkTransport, error) {
	if bind == "" {
		return nil, fmt.Errorf("coordinator: --raft-bind is required")
	}
	// Raft addresses stay DNS names: a container's IP changes on restart.
	if host, port, err := net.SplitHostPort(advertise); err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("coordinator: raft address %q: want HOST:PORT", advertise)
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("coordinator: raft listen %s: %w", bind, err)
	}
	if pair != nil {
		pair = &TLSPair{Server: coordinatorsOnly(pair.Server), Client: coordinatorsOnly(pair.Client)}
	}
	sl := &streamLayer{ln: ln, advertise: advertise, pair: pair}
	return raft.NewNetworkTransport(sl, 3, 10*time.Second, os.Stderr), nil
}

// streamLayer is a raft.StreamLayer over TCP, with optional mutual TLS.
type streamLayer struct {
	ln        net.Listener
	advertise string
	pair      *TLSPair
}

func (s *streamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil || s.pair == nil {
		return c, err
	}
	tc := tls.Server(c, s.pair.Server)
	// The handshake happens on first read, in raft's connection goroutine,
	// so a bad peer never blocks Accept.
	return tc, nil
}

func (s *streamLayer) Close() error { return s.ln.Close() }

func (s *streamLayer) Addr() net.Addr { return advertisedAddr(s.advertise) }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if s.pair == nil {
		return d.Dial("tcp", string(address))
	}
	cfg := s.pair.Client.Clone()
	if host, _, err := net.SplitHostPort(string(address)); err == nil {
		cfg.ServerName = host
	}
	return tls.DialWithDialer(d, "tcp", string(address), cfg)
}

// advertisedAddr is a net.Addr that prints as the configured HOST:PORT.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// coordinatorsOnly lets only coordinator certificates speak raft, on both
// ends: a worker, client or admin certificate from the same CA is refused at
// the handshake, before raft reads a byte.
func coordinatorsOnly(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.VerifyConnection = certs.RequirePeerRole(certs.RoleCoordinator)
	return c
}

// heartbeatGate wraps a raft transport so that no heartbeat touches the
// stores after they close. Raft answers heartbeats on the transport's own
// connection goroutines, which its Shutdown does not wait for; one still in
// flight when the stores close makes raft panic ("failed to save current
// term: database not open"). close waits for those in flight and refuses
// the rest.
type heartbeatGate struct {
	raft.Transport
	mu     sync.RWMutex
	closed bool
}

// gateHeartbeats wraps t, keeping the optional interfaces raft looks for.
func gateHeartbeats(t raft.Transport) (raft.Transport, *heartbeatGate) {
	g := &heartbeatGate{Transport: t}
	if pv, ok := t.(raft.WithPreVote); ok {
		return &heartbeatGatePreVote{heartbeatGate: g, pv: pv}, g
	}
	return g, g
}

func (g *heartbeatGate) SetHeartbeatHandler(fn func(raft.RPC)) {
	if fn == nil {
		g.Transport.SetHeartbeatHandler(nil)
		return
	}
	g.Transport.SetHeartbeatHandler(func(rpc raft.RPC) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		if g.closed {
			rpc.Respond(nil, raft.ErrRaftShutdown)
			return
		}
		fn(rpc)
	})
}

// Close closes the wrapped transport when it can be closed.
func (g *heartbeatGate) Close() error {
	if c, ok := g.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// close waits for heartbeats in flight and refuses later ones.
func (g *heartbeatGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

type heartbeatGatePreVote struct {
	*heartbeatGate
	pv raft.WithPreVote
}

func (g *heartbeatGatePreVote) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return g.pv.RequestPreVote(id, target, args, resp)
}
