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
	// comparisons; the aggregate merges them away).
	Shard func(k int, s *cfpb.Summary)
}

// Run submits spec (or resumes the same spec found in StateDir), waits for
// it to finish and returns the sweep and its per-point results.
func Run(ctx context.Context, spec *cfpb.SweepSpec, opt Options) (*cfpb.Sweep, []*cfpb.PointResult, error) {
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
			return nil, nil, err
		}
		run = exec.Run
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("local: listen on loopback: %w", err)
	}
	addr := lis.Addr().String()
	_, trans := raft.NewInmemTransport("local")
	cfg := coordinator.Config{ID: "local", GRPCAdvertise: addr, Transport: trans, DataDir: opt.StateDir,
		InMemory: opt.StateDir == "", Embedded: true, Fast: true, Logger: opt.Logger, RaftLog: io.Discard,
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
	node, err := coordinator.NewNode(cfg)
	if err != nil {
		lis.Close()
		return nil, nil, err
	}
	srv := grpc.NewServer(coordinator.ServerOptions(nil)...)
	node.Register(srv, nil)
	go srv.Serve(lis)
	defer func() {
		srv.Stop()
		node.Shutdown()
	}()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = node.WaitLeader(wctx)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	for !node.Leading() {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}

	conn, err := grpc.NewClient(addr, coordinator.DialOptions(nil)...)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	client := cfpb.NewSweepsClient(conn)

	// Resume the same spec if the state folder already holds it.
	var sw *cfpb.Sweep
	for _, s := range node.State().Sweeps() {
		if proto.Equal(s.Spec, spec) && s.State != cfpb.SweepState_SWEEP_STATE_CANCELLED {
			sw = s
			opt.Logger.Info("resuming", "sweep", s.Id)
			break
		}
	}
	if sw == nil {
		if sw, err = client.Submit(ctx, &cfpb.SubmitRequest{Spec: spec}); err != nil {
			return nil, nil, err
		}
	}

	wctx, stopWorkers := context.WithCancel(ctx)
	done := make(chan struct{}, opt.Workers)
	host, _ := os.Hostname()
	for i := 0; i < opt.Workers; i++ {
		w := worker.New(worker.Config{ID: fmt.Sprintf("%s-local-%d", host, i), Coordinators: []string{addr}, Slots: 1,
			Run: run, Logger: opt.Logger, RetryDelay: 100 * time.Millisecond})
		go func() {
			w.Run(wctx)
			done <- struct{}{}
		}()
	}
	defer func() {
		stopWorkers()
		for i := 0; i < opt.Workers; i++ {
			<-done
		}
	}()

	watch, err := client.Watch(ctx, &cfpb.SweepRef{Id: sw.Id})
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
		if opt.Progress != nil {
			opt.Progress(s)
		}
	}
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE {
		return sw, nil, fmt.Errorf("local: sweep %s ended %v", sw.Id, sw.State)
	}
	results, err := node.State().Results(sw.Id)
	if err != nil {
		return sw, nil, err
	}
	if opt.Shard != nil {
		if err := eachDoneShard(node, sw, opt.Shard); err != nil {
			return sw, nil, err
		}
	}
	if sw.Progress.Failed > 0 {
		return sw, results, failures(node, sw)
	}
	return sw, results, nil
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
func eachDoneShard(node *coordinator.Node, sw *cfpb.Sweep, f func(int, *cfpb.Summary)) error {
	for k := int32(0); k < sw.Shards; k++ {
		sh, err := node.State().Shard(sw.Id, k)
		if err != nil {
			return err
		}
		if sh.State == cfpb.ShardState_SHARD_STATE_DONE {
			f(int(k), sh.GetResult().GetSummary())
		}
	}
	return nil
}
