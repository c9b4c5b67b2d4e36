package coordinator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
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

// coordinatorsOnly lets only coordinator certificates speak raft: a worker
// or client certificate from the same CA is refused at the handshake.
func coordinatorsOnly(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("raft: peer presented no certificate")
		}
		role, err := certs.RoleOf(cs.PeerCertificates[0])
		if err != nil || role != certs.RoleCoordinator {
			return fmt.Errorf("raft: peer %q is not a coordinator", cs.PeerCertificates[0].Subject.CommonName)
		}
		return nil
	}
	return c
}
