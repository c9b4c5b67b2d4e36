package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/certs"
	"github.com/clipformer/clipformer/internal/metricsserve"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// tlsFlags select mutual TLS (a certificate folder and an identity in it)
// or an explicit plain-text mode.
type tlsFlags struct {
	dir      string
	name     string // identity: certificate name inside dir
	insecure bool
}

// register adds --certs, --identity and --insecure; role is the command's
// default identity. Client commands also take the identity from
// $CLIPFORMER_IDENTITY, so that an admin can set it once.
func (t *tlsFlags) register(fs *flag.FlagSet, role string) {
	def, env := role, ""
	if role == certs.RoleClient {
		env = " [$CLIPFORMER_IDENTITY]"
		if v := os.Getenv("CLIPFORMER_IDENTITY"); v != "" {
			def = v
		}
	}
	fs.StringVar(&t.dir, "certs", os.Getenv("CLIPFORMER_CERTS"), "folder with ca.crt and the identity's NAME.crt/.key (mutual TLS; `clipformer certs init` makes them) [$CLIPFORMER_CERTS]")
	fs.StringVar(&t.name, "identity", def, "certificate NAME to present from the --certs folder (e.g. admin for cluster add/remove)"+env)
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
	metrics := fs.String("metrics", "", "serve Prometheus metrics at /metrics on this address; a bare :PORT means 127.0.0.1:PORT, and any other interface needs --metrics-tls; empty: off")
	metricsTLS := fs.Bool("metrics-tls", false, "serve the metrics over mutual TLS with this coordinator's certificate (scrapers present a client or admin certificate); allows any interface")
	fs.DurationVar(&cfg.LeaseTTL, "lease-ttl", 30*time.Second, "a lease without heartbeat expires after this")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 5*time.Second, "how often workers heartbeat")
	fs.Int64Var(&cfg.MaxShards, "max-shards", 1_000_000, "refuse sweeps with more shards")
	quotaSweeps := fs.Int("quota-sweeps", coordinator.DefaultQuotaSweeps, "sweeps one client certificate may have running or paused at once (-1: no limit)")
	fs.Int64Var(&cfg.QuotaShards, "quota-shards", 0, "pending and leased shards one client certificate may have at once (0: --max-shards; -1: no limit)")
	fs.DurationVar(&cfg.Retention, "retention", 0, "delete finished sweeps this long after they finished (0: keep them until `clipformer delete`)")
	fs.IntVar(&cfg.Stall.Factor, "stall-factor", state.DefaultStallFactor, "revoke a lease whose images-done count has not moved for this many times the sweep's expected shard time")
	fs.DurationVar(&cfg.Stall.Floor, "stall-floor", state.DefaultStallFloor, "the expected shard time is at least this (so fast shards never look stuck)")
	fs.DurationVar(&cfg.Stall.Ceiling, "stall-ceiling", state.DefaultStallCeiling, "the expected shard time is at most this, and is this until a shard of the sweep is done")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	stopTimeout := fs.Duration("stop-timeout", 10*time.Second, "on SIGTERM: hand over leadership, end worker and client streams and stop within this")
	uiAddr := fs.String("ui", "", uiFlagUsage)
	tf.register(fs, "coordinator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Peers = peers
	if *quotaSweeps == 0 || *quotaSweeps > math.MaxInt32 || *quotaSweeps < -1 {
		return fmt.Errorf("coordinator: --quota-sweeps %d: want 1 to %d, or -1 for no limit", *quotaSweeps, math.MaxInt32)
	}
	cfg.QuotaSweeps = int32(*quotaSweeps)
	if cfg.Retention < 0 {
		return fmt.Errorf("coordinator: --retention %v: want 0 (keep) or a positive period", cfg.Retention)
	}
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
		var mTLS *tls.Config
		if *metricsTLS {
			if serverTLS == nil {
				srv.Stop()
				node.Shutdown()
				return errors.New("coordinator: --metrics-tls needs --certs")
			}
			mTLS = serverTLS
		}
		ms, err := coordinator.ServeMetrics(*metrics, node.Metrics.Registry, mTLS, cfg.Logger)
		if err != nil {
			srv.Stop()
			node.Shutdown()
			return err
		}
		defer ms.Close()
		cfg.Logger.Info("metrics", "addr", ms.Addr().String(), "tls", mTLS != nil)
	}
	if *uiAddr != "" {
		uctx, stopUI := context.WithCancel(ctx)
		uiDone, err := startDashboard(uctx, *uiAddr, node, serverTLS, "coordinator "+cfg.ID, cfg.Logger, stderr)
		if err != nil {
			stopUI()
			srv.Stop()
			node.Shutdown()
			return fmt.Errorf("coordinator: --ui: %w", err)
		}
		defer func() { stopUI(); <-uiDone }()
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
	var roots stringList
	fs.Var(&roots, "data-root", "folder that model and data paths must lead into, links followed (repeat, or comma-separated; default: --base, else the working directory)")
	maxFile := fs.Int64("max-file-size", worker.DefaultMaxFileBytes, "refuse a model or IDX file larger than this many bytes")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fake := fs.Duration("fake", -1, "complete each shard after this long without simulating (orchestrator benchmarks only; results are meaningless)")
	metrics := fs.String("metrics", "", "serve Prometheus metrics at /metrics on this address; a bare :PORT means 127.0.0.1:PORT, and any other interface needs --metrics-tls; empty: off")
	metricsTLS := fs.Bool("metrics-tls", false, "serve the metrics over mutual TLS with this worker's certificate (scrapers present a client or admin certificate); allows any interface")
	var tf tlsFlags
	tf.register(fs, "worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	serverTLS, clientTLS, err := tf.load()
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if *id, err = workerID(fs, *id, clientTLS); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if *threads <= 0 {
		*threads = max(1, runtime.NumCPU() / *slots)
	}
	if len(roots) == 0 {
		roots = stringList{*base}
		if *base == "" {
			roots = stringList{"."}
		}
	}
	for _, r := range roots {
		if fi, err := os.Stat(r); err != nil || !fi.IsDir() {
			return fmt.Errorf("worker: --data-root %s is not a folder", r)
		}
	}
	wm := worker.NewMetrics()
	if *metrics != "" {
		ms, err := serveWorkerMetrics(*metrics, *metricsTLS, serverTLS, wm, logger)
		if err != nil {
			return err
		}
		defer ms.Close()
	}
	exec := &worker.Executor{Threads: *threads, BaseDir: *base, DataRoots: roots, MaxFileBytes: *maxFile, Metrics: wm}
	run := exec.Run
	if *fake >= 0 {
		run = fakeRunner(*fake)
		logger.Warn("fake worker: shards are not simulated", "shard_time", *fake)
	}
	w := worker.New(worker.Config{ID: *id, Coordinators: splitList(*coords), Slots: *slots, Run: run, TLS: clientTLS, Logger: logger, Metrics: wm})
	runCtx, cancel := drainOnSignal(ctx, w, logger)
	defer cancel()
	logger.Info("worker up", "id", w.ID(), "slots", *slots, "threads", *threads, "coordinators", *coords, "data_roots", roots.String())
	return w.Run(runCtx)
}

// drainOnSignal drains w when ctx ends (SIGTERM): it finishes what it
// holds, takes nothing new, then w.Run returns. A second signal cancels the
// returned context, to stop at once; cancel ends the watch.
func drainOnSignal(ctx context.Context, w *worker.Worker, logger *slog.Logger) (context.Context, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		logger.Info("draining: finishing held shards, taking no new ones")
		w.Drain()
		sig := make(chan os.Signal, 1)
		notifyInterrupt(sig)
		defer signal.Stop(sig)
		select {
		case <-sig:
			cancel()
		case <-runCtx.Done():
		}
	}()
	return runCtx, cancel
}

// serveWorkerMetrics serves a worker's metrics on addr: over mutual TLS
// with the worker's own certificate when withTLS, else on loopback only.
func serveWorkerMetrics(addr string, withTLS bool, serverTLS *tls.Config, m *worker.Metrics, log *slog.Logger) (*metricsserve.Server, error) {
	var mTLS *tls.Config
	if withTLS {
		if serverTLS == nil {
			return nil, errors.New("worker: --metrics-tls needs --certs")
		}
		mTLS = serverTLS
	}
	ms, err := worker.ServeMetrics(addr, m.Registry, mTLS, log)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	log.Info("metrics", "addr", ms.Addr().String(), "tls", mTLS != nil)
	return ms, nil
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
// at --addr serves (a leader is known), or with --live when it answers at
// all.
func runHealth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "coordinator API address")
	live := fs.Bool("live", false, "liveness: exit 0 whenever the coordinator's health service answers, leader known or not (a coordinator without quorum is alive, and restarting it does not help)")
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
	if r.Status != healthpb.HealthCheckResponse_SERVING && !*live {
		return fmt.Errorf("health %s: %v", *addr, r.Status)
	}
	return nil
}

const certsUsage = `usage: clipformer certs init --dir DIR [--hosts H1,H2] [--coordinators NAMES] [--workers NAMES] [--clients NAMES] [--admins NAMES]
       clipformer certs issue --dir DIR --name NAME --role coordinator|worker|client|admin [--hosts H1,H2]`

// runCerts makes a cluster CA and identities. init is safe to run again: it
// keeps the CA and every identity already there and adds the missing ones.
// issue (re)issues one identity with the existing CA: a rotation.
func runCerts(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "issue") {
		fmt.Fprintln(stderr, certsUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("certs "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "certs", "folder for the CA and certificates; ca.key stays here, never in an image or container")
	hosts := fs.String("hosts", "localhost,127.0.0.1", "DNS names and IPs every coordinator and worker certificate is valid for, comma-separated (its own name is added)")
	name := fs.String("name", "", "identity name (issue); for a worker, its worker id")
	role := fs.String("role", "", "coordinator, worker, client or admin (issue)")
	coords := fs.String("coordinators", "coordinator", "coordinator identities to make (init), comma-separated")
	workers := fs.String("workers", "worker", "worker identities to make (init), comma-separated; each is that worker's id")
	clients := fs.String("clients", "client", "client identities to make (init), comma-separated")
	admins := fs.String("admins", "admin", "admin identities to make (init), comma-separated")
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
		if err := certs.Issue(*dir, *name, *role, hostsFor(*role, *name, *hosts)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s/%s.crt and .key (%s)\n", *dir, *name, *role)
		return nil
	}
	var made []string
	for _, g := range []struct{ role, names string }{
		{certs.RoleCoordinator, *coords}, {certs.RoleWorker, *workers}, {certs.RoleClient, *clients}, {certs.RoleAdmin, *admins},
	} {
		for _, n := range splitList(g.names) {
			if certs.Exists(*dir, n) {
				continue
			}
			if err := certs.Issue(*dir, n, g.role, hostsFor(g.role, n, *hosts)); err != nil {
				return err
			}
			made = append(made, n+" ("+g.role+")")
		}
	}
	if len(made) == 0 {
		made = []string{"none: every identity was there"}
	}
	fmt.Fprintf(stdout, "CA and identities in %s; new: %s. Keep ca.key out of images and containers.\n", *dir, strings.Join(made, ", "))
	return nil
}

// hostsFor lists the names a coordinator's or worker's certificate serves
// (the API and raft; the metrics): its own name and the shared hosts.
// Clients and admins serve nothing.
func hostsFor(role, name, hosts string) []string {
	if !certs.Serves(role) {
		return nil
	}
	return append([]string{name}, splitList(hosts)...)
}

// workerID binds a worker's id to its certificate: with TLS, the id is the
// certificate's name, and a different --id is refused rather than sent to a
// coordinator that would refuse it.
func workerID(fs *flag.FlagSet, id string, clientTLS *tls.Config) (string, error) {
	if clientTLS == nil || len(clientTLS.Certificates) == 0 {
		return id, nil
	}
	leaf, err := x509.ParseCertificate(clientTLS.Certificates[0].Certificate[0])
	if err != nil {
		return "", err
	}
	role, name, err := certs.IdentityOf(leaf)
	if err != nil {
		return "", err
	}
	if role != certs.RoleWorker {
		return "", fmt.Errorf("the certificate %q is a %s's; a worker needs a worker certificate (--identity)", name, role)
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "id" })
	if explicit {
		// Workers sharing a certificate keep distinct ids: NAME/ID.
		return worker.IDFor(clientTLS, id), nil
	}
	return name, nil
}

// stringList is a repeatable, comma-separated flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, splitList(v)...)
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
