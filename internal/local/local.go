// Package local runs a sweep on one machine the same way a cluster does: a
// single-node coordinator (raft with its log on disk, so an interrupted run
// resumes) and N workers in this process, talking gRPC over loopback. Only
// the transport between them is local; the scheduling, leasing and
// aggregation code is the cluster's.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// CheckInputs loads, through exec, the model and the data set that every
// shard of spec reads, and checks that they fit each other. A missing or
// unreadable input then fails here, naming the spec's field, before any
// shard runs or any state is touched; exec keeps what it loaded for the
// shards.
func CheckInputs(spec *cfpb.SweepSpec, exec *worker.Executor) error {
	if err := sweep.CheckPaths(spec, exec.BaseDir); err != nil {
		return err
	}
	m, err := exec.Model(spec.GetModel())
	if err != nil {
		return fmt.Errorf("model.path: %w", err)
	}
	if _, err := exec.Dataset(spec.GetDataset(), m); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return nil
}

// Options configure a local run.
type Options struct {
	// StateDir holds the coordinator's raft log and snapshots; a rerun with
	// the same spec and folder resumes. Empty keeps the state in memory.
	StateDir string
	// Workers is the number of in-process workers (0: one per CPU), each
	// running one shard at a time on ThreadsPerWorker goroutines.
	Workers          int
	ThreadsPerWorker int
	// Run replaces the simulator (tests and overhead benchmarks).
	Run worker.Runner
	// Exec is the simulator executor when Run is nil (default: a new one
	// that accepts specs without a model checksum, on ThreadsPerWorker
	// goroutines). A given Exec is used as it is, Threads included.
	Exec *worker.Executor
	// Progress receives the sweep at every change.
	Progress func(*cfpb.Sweep)
	Logger   *slog.Logger
	// LeaseTTL and HeartbeatInterval override the cluster defaults.
	LeaseTTL, HeartbeatInterval time.Duration
	// Shard, when set, receives every done shard's index and committed
	// summary once the sweep has ended (per-shard results for paired
	// comparisons; the aggregate merges them away), and whether it is a
	// copy of trial 0 rather than computed.
	Shard func(k int, s *cfpb.Summary, copy bool)
	// ComputeEveryTrial computes every trial of a newly submitted sweep,
	// even of the points whose trials give the same bits (which are
	// otherwise computed once and copied); a resumed sweep keeps what it
	// was submitted with.
	ComputeEveryTrial bool
}

// Run submits spec (or resumes the same spec found in StateDir), waits for
// it to finish and returns the sweep and its per-point results.
func Run(ctx context.Context, spec *cfpb.SweepSpec, opt Options) (*cfpb.Sweep, []*cfpb.PointResult, error) {
	r, err := Start(ctx, spec, opt)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	return r.Wait(ctx)
}

// A Running sweep is a started local run: its node serves until Close, so
// that a dashboard can show the sweep after Wait returns.
type Running struct {
	node    *coordinator.Node
	srv     *grpc.Server
	conn    *grpc.ClientConn
	sweep   *cfpb.Sweep
	opt     Options
	stop    context.CancelFunc
	workers chan struct{}
}

// Start brings up the node and the workers and submits spec, or resumes
// the same spec found in StateDir.
func Start(ctx context.Context, spec *cfpb.SweepSpec, opt Options) (_ *Running, err error) {
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.ThreadsPerWorker <= 0 {
		opt.ThreadsPerWorker = 1
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	run := opt.Run
	if run == nil {
		exec := opt.Exec
		if exec == nil {
			exec = &worker.Executor{AllowUnchecked: true, Threads: opt.ThreadsPerWorker}
		}
		if err := CheckInputs(spec, exec); err != nil {
			return nil, err
		}
		run = exec.Run
	}
	r := &Running{opt: opt, workers: make(chan struct{}, opt.Workers)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	addr, err := r.startNode(ctx)
	if err != nil {
		return nil, err
	}
	if r.conn, err = grpc.NewClient(addr, coordinator.DialOptions(nil)...); err != nil {
		return nil, err
	}
	// Resume the same spec if the state folder already holds it.
	for _, s := range r.node.State().Sweeps() {
		if proto.Equal(s.Spec, spec) && s.State != cfpb.SweepState_SWEEP_STATE_CANCELLED {
			r.sweep = s
			opt.Logger.Info("resuming", "sweep", s.Id)
			break
		}
	}
	if r.sweep == nil {
		if r.sweep, err = cfpb.NewSweepsClient(r.conn).Submit(ctx, &cfpb.SubmitRequest{Spec: spec}); err != nil {
			return nil, err
		}
	}
	wctx, stop := context.WithCancel(ctx)
	r.stop = stop
	host, _ := os.Hostname()
	for i := 0; i < opt.Workers; i++ {
		w := worker.New(worker.Config{ID: fmt.Sprintf("%s-local-%d", host, i), Coordinators: []string{addr}, Slots: 1,
			Run: run, Logger: opt.Logger, RetryDelay: 100 * time.Millisecond})
		go func() {
			w.Run(wctx)
			r.workers <- struct{}{}
		}()
	}
	return r, nil
}

// startNode starts the single-node coordinator on loopback and waits until
// it leads; it returns the node's API address.
func (r *Running) startNode(ctx context.Context) (string, error) {
	opt := r.opt
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("local: listen on loopback: %w", err)
	}
	addr := lis.Addr().String()
	_, trans := raft.NewInmemTransport("local")
	cfg := coordinator.Config{ID: "local", GRPCAdvertise: addr, Transport: trans, DataDir: opt.StateDir,
		InMemory: opt.StateDir == "", Embedded: true, Fast: true, Logger: opt.Logger, RaftLog: io.Discard, ComputeEveryTrial: opt.ComputeEveryTrial,
		Peers:    []coordinator.Peer{{ID: "local", Raft: "local", GRPC: addr}},
		LeaseTTL: opt.LeaseTTL, HeartbeatInterval: opt.HeartbeatInterval, BackoffBase: 200 * time.Millisecond}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.LeaseTTL == 0 {
		// A worker runs one shard at a time and heartbeats from another
		// goroutine, so a long shard never starves its heartbeat.
		cfg.LeaseTTL = 10 * time.Second
	}
	if r.node, err = coordinator.NewNode(cfg); err != nil {
		lis.Close()
		return "", err
	}
	r.srv = grpc.NewServer(coordinator.ServerOptions(nil)...)
	r.node.Register(r.srv, nil)
	go r.srv.Serve(lis)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = r.node.WaitLeader(wctx)
	cancel()
	if err != nil {
		return "", err
	}
	for !r.node.Leading() {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return addr, nil
}

// Node is the run's coordinator, for a dashboard.
func (r *Running) Node() *coordinator.Node { return r.node }

// Sweep is the sweep as submitted or resumed.
func (r *Running) Sweep() *cfpb.Sweep { return r.sweep }

// Wait follows the sweep until it ends and returns it with its per-point
// results; the workers stop, the node keeps serving until Close.
func (r *Running) Wait(ctx context.Context) (*cfpb.Sweep, []*cfpb.PointResult, error) {
	defer r.stopWorkers()
	sw := r.sweep
	watch, err := cfpb.NewSweepsClient(r.conn).Watch(ctx, &cfpb.SweepRef{Id: sw.Id})
	if err != nil {
		return nil, nil, err
	}
	for {
		s, err := watch.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return sw, nil, ctx.Err()
			}
			return sw, nil, err
		}
		sw = s
		if r.opt.Progress != nil {
			r.opt.Progress(s)
		}
	}
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE {
		return sw, nil, fmt.Errorf("local: sweep %s ended %v", sw.Id, sw.State)
	}
	results, err := r.node.State().Results(sw.Id)
	if err != nil {
		return sw, nil, err
	}
	if r.opt.Shard != nil {
		if err := eachDoneShard(r.node, sw, r.opt.Shard); err != nil {
			return sw, nil, err
		}
	}
	if sw.Progress.Failed > 0 {
		return sw, results, failures(r.node, sw)
	}
	return sw, results, nil
}

// stopWorkers stops the workers and waits for them, once.
func (r *Running) stopWorkers() {
	if r.stop == nil {
		return
	}
	r.stop()
	for i := 0; i < r.opt.Workers; i++ {
		<-r.workers
	}
	r.stop = nil
}

// Close stops the workers, the API and the node.
func (r *Running) Close() {
	r.stopWorkers()
	if r.conn != nil {
		r.conn.Close()
	}
	if r.srv != nil {
		r.srv.Stop()
	}
	if r.node != nil {
		r.node.Shutdown()
	}
}

// ErrShardsFailed reports shards that failed three attempts.
var ErrShardsFailed = errors.New("local: shards failed")

func failures(node *coordinator.Node, sw *cfpb.Sweep) error {
	for k := int32(0); k < sw.Shards; k++ {
		sh, err := node.State().Shard(sw.Id, k)
		if err == nil && sh.State == cfpb.ShardState_SHARD_STATE_FAILED {
			return fmt.Errorf("%w: %d of %d; the first, shard %d: %s", ErrShardsFailed, sw.Progress.Failed, sw.Shards, k, sh.LastError)
		}
	}
	return fmt.Errorf("%w: %d of %d", ErrShardsFailed, sw.Progress.Failed, sw.Shards)
}

// eachDoneShard hands f every done shard of the sweep, in shard order.
func eachDoneShard(node *coordinator.Node, sw *cfpb.Sweep, f func(int, *cfpb.Summary, bool)) error {
	for k := int32(0); k < sw.Shards; k++ {
		sh, err := node.State().Shard(sw.Id, k)
		if err != nil {
			return err
		}
		if sh.State == cfpb.ShardState_SHARD_STATE_DONE {
			f(int(k), sh.GetResult().GetSummary(), sh.Copy)
		}
	}
	return nil
}
