package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// tlsFlags select mutual TLS (a certificate folder) or an explicit
// plain-text mode.
type tlsFlags struct {
	dir      string
	name     string // certificate name inside dir
	insecure bool
}

func (t *tlsFlags) register(fs *flag.FlagSet, name string) {
	t.name = name
	fs.StringVar(&t.dir, "certs", os.Getenv("CLIPFORMER_CERTS"), "folder with ca.crt and "+name+".crt/.key (mutual TLS; `clipformer certs init` makes them) [$CLIPFORMER_CERTS]")
	fs.BoolVar(&t.insecure, "insecure", false, "plain text without TLS (development only)")
}

// load returns the server and client TLS configs, or nil, nil with --insecure.
func (t *tlsFlags) load() (server, client *tls.Config, err error) {
	switch {
	case t.insecure && t.dir != "":
		return nil, nil, errors.New("give either --certs or --insecure, not both")
	case t.insecure:
		return nil, nil, nil
	case t.dir == "":
		return nil, nil, errors.New("mutual TLS needs --certs DIR (see `clipformer certs init`); plain text needs an explicit --insecure")
	}
	return certs.Load(certs.InDir(t.dir, t.name))
}

type peerList []coordinator.Peer

func (p *peerList) String() string { return fmt.Sprint(*p) }
func (p *peerList) Set(v string) error {
	for _, one := range strings.Split(v, ";") {
		f := strings.Split(strings.TrimSpace(one), ",")
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			return fmt.Errorf("peer %q: want ID,RAFT_HOST:PORT,GRPC_HOST:PORT", one)
		}
		*p = append(*p, coordinator.Peer{ID: f[0], Raft: f[1], GRPC: f[2]})
	}
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runCoordinator(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg coordinator.Config
	var peers peerList
	var tf tlsFlags
	fs.StringVar(&cfg.ID, "id", "", "stable server id (required)")
	fs.StringVar(&cfg.DataDir, "data", "", "folder for the raft log and snapshots (one per coordinator; required)")
	fs.StringVar(&cfg.RaftBind, "raft-bind", ":7100", "raft listen address")
	fs.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "raft address the other coordinators dial: a DNS name, never a container IP (default: --raft-bind)")
	grpcListen := fs.String("listen", ":7000", "API listen address")
	fs.StringVar(&cfg.GRPCAdvertise, "advertise", "", "API address clients and workers dial (default: --listen)")
	fs.Var(&peers, "peer", "initial cluster member ID,RAFT_ADDR,GRPC_ADDR (repeat, this node included; used once, to bootstrap)")
	metrics := fs.String("metrics", "", "serve Prometheus metrics on this address (e.g. :9100); empty: off")
	fs.DurationVar(&cfg.LeaseTTL, "lease-ttl", 30*time.Second, "a lease without heartbeat expires after this")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 5*time.Second, "how often workers heartbeat")
	fs.Int64Var(&cfg.MaxShards, "max-shards", 1_000_000, "refuse sweeps with more shards")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	stopTimeout := fs.Duration("stop-timeout", 10*time.Second, "on SIGTERM: hand over leadership, end worker and client streams and stop within this")
	tf.register(fs, "coordinator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Peers = peers
	if cfg.GRPCAdvertise == "" {
		cfg.GRPCAdvertise = *grpcListen
	}
	var err error
	if cfg.Logger, err = newLogger(stderr, *level); err != nil {
		return err
	}
	serverTLS, clientTLS, err := tf.load()
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	if serverTLS != nil {
		cfg.RaftTLS = &coordinator.TLSPair{Server: serverTLS, Client: clientTLS}
	}
	lis, err := net.Listen("tcp", *grpcListen)
	if err != nil {
		return fmt.Errorf("coordinator: listen %s: %w", *grpcListen, err)
	}
	node, err := coordinator.NewNode(cfg)
	if err != nil {
		lis.Close()
		return err
	}
	srv := grpc.NewServer(coordinator.ServerOptions(serverTLS)...)
	node.Register(srv, clientTLS)
	go srv.Serve(lis)
	if *metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(node.Metrics.Registry, promhttp.HandlerOpts{}))
		hs := &http.Server{Addr: *metrics, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("metrics server", "err", err)
			}
		}()
		defer hs.Close()
	}
	cfg.Logger.Info("coordinator up", "id", cfg.ID, "api", *grpcListen, "raft", cfg.RaftBind, "tls", serverTLS != nil)
	<-ctx.Done()
	cfg.Logger.Info("coordinator stopping", "within", *stopTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), *stopTimeout)
	defer cancel()
	return node.Stop(sctx, srv)
}

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	id := fs.String("id", host, "stable worker id, unique in the cluster; with --certs it is the certificate's name or becomes NAME/ID")
	coords := fs.String("coordinators", envOr("CLIPFORMER_COORDINATORS", "127.0.0.1:7000"), "coordinator API addresses, comma-separated; any one will do [$CLIPFORMER_COORDINATORS]")
	slots := fs.Int("slots", 1, "shards run at once")
	threads := fs.Int("threads", 0, "goroutines per shard (0: cores / slots)")
	base := fs.String("base", "", "folder that relative model and data paths in specs are resolved against (default: working directory)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fake := fs.Duration("fake", -1, "complete each shard after this long without simulating (orchestrator benchmarks only; results are meaningless)")
	var tf tlsFlags
	tf.register(fs, "worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	_, clientTLS, err := tf.load()
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if *threads <= 0 {
		*threads = max(1, runtime.NumCPU() / *slots)
	}
	exec := &worker.Executor{Threads: *threads, BaseDir: *base}
	run := exec.Run
	if *fake >= 0 {
		run = fakeRunner(*fake)
		logger.Warn("fake worker: shards are not simulated", "shard_time", *fake)
	}
	w := worker.New(worker.Config{ID: *id, Coordinators: splitList(*coords), Slots: *slots, Run: run, TLS: clientTLS, Logger: logger})
	// SIGTERM drains: finish what we hold, take nothing new, then exit. A
	// second signal stops at once.
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-ctx.Done()
		logger.Info("draining: finishing held shards, taking no new ones")
		w.Drain()
		sig := make(chan os.Signal, 1)
		notifyInterrupt(sig)
		<-sig
		cancel()
	}()
	logger.Info("worker up", "id", w.ID(), "slots", *slots, "threads", *threads, "coordinators", *coords)
	return w.Run(runCtx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// runHealth is a container health check: it exits 0 when the coordinator
// at --addr serves (a leader is known).
func runHealth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "coordinator API address")
	var tf tlsFlags
	tf.register(fs, "client")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, clientTLS, err := tf.load()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, coordinator.DialOptions(clientTLS)...)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("health %s: %w", *addr, err)
	}
	fmt.Fprintln(stdout, r.Status)
	if r.Status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health %s: %v", *addr, r.Status)
	}
	return nil
}

func runCerts(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "issue") {
		fmt.Fprintln(stderr, "usage: clipformer certs init --dir DIR [--hosts H1,H2,...]\n       clipformer certs issue --dir DIR --name NAME --role coordinator|worker|client [--hosts ...]")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("certs "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "certs", "folder for the CA and certificates")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "DNS names and IPs the coordinator certificate is valid for, comma-separated")
	name := fs.String("name", "", "certificate name (issue)")
	role := fs.String("role", "", "coordinator, worker or client (issue)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := certs.CreateCA(*dir); err != nil {
		return err
	}
	if args[0] == "issue" {
		if *name == "" {
			return errors.New("certs issue: --name is required")
		}
		if err := certs.Issue(*dir, *name, *role, splitList(*hosts)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s/%s.crt and .key (%s)\n", *dir, *name, *role)
		return nil
	}
	for _, r := range []string{certs.RoleCoordinator, certs.RoleWorker, certs.RoleClient} {
		if err := certs.Issue(*dir, r, r, splitList(*hosts)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote a development CA and coordinator, worker and client certificates to %s (hosts %s)\n", *dir, *hosts)
	return nil
}

// fakeRunner completes a shard after d without simulating: for measuring
// the orchestrator alone.
func fakeRunner(d time.Duration) worker.Runner {
	return func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		if d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return &cfpb.Summary{Images: int64(w.Count)}, nil
	}
}
