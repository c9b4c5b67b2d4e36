// Package metricsserve serves a Prometheus registry at /metrics the way
// every clipformer process does: plain HTTP on loopback only, or mutual TLS
// on any interface, where a scraper must present a client or admin
// certificate of the cluster CA.
package metricsserve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clipformer/clipformer/internal/certs"
)

// ErrExposed refuses plain-text metrics on an interface other than
// loopback.
var ErrExposed = errors.New("metrics: plain text is served on loopback only")

// Server serves a process's Prometheus metrics at /metrics.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// metricsAddr resolves a --metrics address: without a host (":9100",
// "9100") it is loopback. Any other host must be a loopback address unless
// the metrics are served over TLS.
func metricsAddr(addr string, withTLS bool) (string, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("metrics: address %q: want [HOST]:PORT", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || ip != nil && ip.IsLoopback()
	if !loopback && !withTLS {
		return "", fmt.Errorf("%w: %s is not a loopback address; serve them there with --metrics-tls (mutual TLS, a client or admin certificate to scrape), or bind 127.0.0.1:%s",
			ErrExposed, host, port)
	}
	return net.JoinHostPort(host, port), nil
}

// Serve serves reg at http(s)://addr/metrics until Close. Without
// tlsCfg the address must be loopback (a bare ":PORT" means loopback); with
// it, scrapers connect over mutual TLS and must present a client or admin
// certificate of the cluster CA. tlsCfg is a server configuration from
// certs.Load.
func Serve(addr string, reg prometheus.Gatherer, tlsCfg *tls.Config, log *slog.Logger) (*Server, error) {
	addr, err := metricsAddr(addr, tlsCfg != nil)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	if tlsCfg != nil {
		c := tlsCfg.Clone()
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.VerifyConnection = certs.RequirePeerRole(certs.RoleClient, certs.RoleAdmin)
		ln = tls.NewListener(ln, c)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &Server{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return m, nil
}

// Addr is the address the metrics are served on.
func (m *Server) Addr() net.Addr { return m.ln.Addr() }

// Close stops serving and waits for the server's goroutine.
func (m *Server) Close() error {
	err := m.srv.Close()
	<-m.done
	return err
}
