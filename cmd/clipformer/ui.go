package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/ui"
	"github.com/clipformer/clipformer/internal/ui/nodesource"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim/cost"
	"github.com/clipformer/clipformer/sim/vit"
)

// uiFlagUsage is the --ui flag's help, shared by coordinator and run.
const uiFlagUsage = "serve the dashboard on this address (a bare :PORT is loopback, served to anyone who reaches it; any other interface needs --certs, serves HTTPS and asks for a `clipformer ui token`); empty: off"

// startDashboard serves the dashboard of node on addr until ctx ends. With
// serverTLS (the coordinator's certificates) it serves HTTPS and checks
// tokens against the cluster CA. It returns once the dashboard listens,
// and done is closed when it has stopped.
func startDashboard(ctx context.Context, addr string, node *coordinator.Node, serverTLS *tls.Config, title string, log *slog.Logger, stderr io.Writer) (done <-chan struct{}, err error) {
	cfg := ui.Config{Addr: addr, Source: nodesource.New(node), Enrich: hardwareEnricher(), Title: title, Logger: log}
	if serverTLS != nil {
		cfg.TLS, cfg.Roots = serverTLS, serverTLS.ClientCAs
	}
	srv, err := ui.New(cfg)
	if err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	fin := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(fin)
		if err := srv.Run(ctx, func(a string) { ready <- a }); err != nil {
			errc <- err
		}
	}()
	select {
	case a := <-ready:
		fmt.Fprintf(stderr, "dashboard: %s\n", srv.URL(a))
		log.Info("dashboard", "url", srv.URL(a), "open", srv.Open())
		return fin, nil
	case err := <-errc:
		return nil, err
	}
}

// hardwareEnricher fills the rows' hardware columns as `clipformer
// results` does (addHardware), loading each model's architecture once.
func hardwareEnricher() func([]report.Row, *cfpb.SweepSpec, []*cfpb.PointResult) {
	var mu sync.Mutex
	configs := map[string]*vit.Config{} // nil: not readable here
	return func(rows []report.Row, spec *cfpb.SweepSpec, results []*cfpb.PointResult) {
		path := locateBundled(spec.GetModel().GetPath())
		mu.Lock()
		c, seen := configs[path]
		if !seen {
			if m, err := vit.Load(path, vit.LoadOptions{}); err == nil {
				c = &m.Config
			}
			configs[path] = c
		}
		mu.Unlock()
		if c != nil {
			_ = report.AddHardware(rows, spec, results, *c, cost.Default())
		}
	}
}

// runUI is `clipformer ui token`.
func runUI(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "token" {
		fmt.Fprintln(stderr, "usage: clipformer ui token [flags]\n\nPrints a dashboard token for a client or admin certificate.")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("ui token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf tlsFlags
	tf.register(fs, certs.RoleClient)
	life := fs.Duration("ttl", 12*time.Hour, fmt.Sprintf("how long the token is valid (at most %s, and never past the certificate)", ui.MaxTokenLife))
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if tf.dir == "" {
		return errors.New("ui token: give --certs DIR with the identity's certificate and key (see `clipformer certs`)")
	}
	_, client, err := tf.load()
	if err != nil {
		return fmt.Errorf("ui token: %w", err)
	}
	pair := client.Certificates[0]
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("ui token: %w", err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("ui token: the key of %s cannot sign", tf.name)
	}
	tok, err := ui.IssueToken(cert, key, *life, time.Now())
	if err != nil {
		return fmt.Errorf("ui token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
