// Package coordinator is the sweep control plane: a raft-replicated state
// machine (package state) behind a gRPC API. The leader leases shards to
// workers over their Work streams, keeps lease deadlines and stream handles
// in memory, batches completions into raft commands and acknowledges a
// result only after its commit. Followers forward client calls to the
// leader and refuse worker streams with the leader's address.
package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Peer is one coordinator of the initial cluster.
type Peer struct {
	ID   string
	Raft string // raft address (a DNS name and port, never a container IP)
	GRPC string // API address
}

// Config configures a coordinator node.
type Config struct {
	ID            string
	RaftBind      string // raft listen address, e.g. ":7100"
	RaftAdvertise string // raft address the others dial (default RaftBind)
	GRPCAdvertise string // API address clients and workers dial
	DataDir       string // raft log, stable store and snapshots
	// Peers is the initial cluster, this node included. The cluster is
	// bootstrapped once, when no node has state; later starts ignore it.
	Peers []Peer
	// RaftTLS secures the raft transport (mutual TLS); nil means plain TCP.
	RaftTLS *TLSPair
	// Transport replaces the TCP transport (tests use raft's in-memory one).
	Transport raft.Transport
	// InMemory keeps the raft log and snapshots in memory (tests).
	InMemory bool

	HeartbeatInterval time.Duration // how often workers heartbeat (default 5 s)
	LeaseTTL          time.Duration // a lease without heartbeat expires (default 30 s)
	PingInterval      time.Duration // how often a worker stream carries at least a Ping (default 1 s)
	Grace             time.Duration // extra lease time after a leader change (default LeaseTTL)
	BackoffBase       time.Duration // first retry delay after a counted failure (default 1 s)
	MaxShards         int64         // largest sweep accepted (default sweep.DefaultMaxShards)
	// QuotaSweeps and QuotaShards bound what one owner (a client
	// certificate) may have running or paused at once: sweeps, and their
	// pending and leased shards. Zero takes the default (100 sweeps,
	// MaxShards shards); negative means no limit.
	QuotaSweeps int32
	QuotaShards int64
	// Retention deletes finished sweeps this long after they finished;
	// zero keeps them until deleted.
	Retention time.Duration
	// Stall says when a lease whose worker heartbeats but whose
	// images-done count stands still is revoked (zero fields: defaults).
	Stall state.StallPolicy
	// Embedded accepts specs without a model sha256 (single-process runs).
	Embedded bool
	// ComputeEveryTrial submits sweeps that compute every trial, even of
	// the points whose trials all give the same bits, which are otherwise
	// computed once and copied (coordinator/state/copies.go); for checking
	// that rule at scale, and for tests.
	ComputeEveryTrial bool
	// ApplyTimeout bounds one raft apply (default 10 s).
	ApplyTimeout time.Duration
	// Fast shortens raft's timeouts for loopback clusters and tests.
	Fast   bool
	Logger *slog.Logger
	// RaftLog receives raft's own log lines (default: standard error).
	RaftLog io.Writer
}

// DefaultQuotaSweeps is how many sweeps one owner may have running or
// paused at once, unless configured.
const DefaultQuotaSweeps = 100

// quota is the per-owner quota a SubmitSweep carries.
func (c *Config) quota() *cfpb.Quota {
	return &cfpb.Quota{MaxSweeps: max(c.QuotaSweeps, 0), MaxShards: max(c.QuotaShards, 0)}
}

// TLSPair is the server and client side of mutual TLS for one node.
type TLSPair struct {
	Server, Client *tls.Config
}

func (c *Config) defaults() {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = time.Second
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.Grace == 0 {
		c.Grace = c.LeaseTTL
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = time.Second
	}
	if c.MaxShards == 0 {
		c.MaxShards = sweep.DefaultMaxShards
	}
	if c.QuotaSweeps == 0 {
		c.QuotaSweeps = DefaultQuotaSweeps
	}
	if c.QuotaShards == 0 {
		c.QuotaShards = c.MaxShards
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.RaftAdvertise == "" {
		c.RaftAdvertise = c.RaftBind
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Node is one coordinator.
type Node struct {
	cfg     Config
	log     *slog.Logger
	st      *state.State
	raft    *raft.Raft
	pace    *snapshotPacer // spaces snapshots by the log written
	trans   raft.Transport
	gate    *heartbeatGate
	closers []io.Closer
	Metrics *Metrics

	clientTLS *tls.Config // dialling the leader when forwarding
	fwd       forwarder

	mu     sync.Mutex
	leader *leaderRole // non-nil while this node leads
	notify chan struct{}

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	// leaving is closed when Stop begins: worker streams and client
	// streams end, so that a graceful stop of the API does not wait on
	// them.
	leaving   chan struct{}
	leaveOnce sync.Once
}

// Errors of a node.
var (
	// ErrNotLeader is returned by operations only the leader performs,
	// when this node does not lead: nothing was done.
	ErrNotLeader = errors.New("coordinator: not the leader")
	// ErrLeadershipLost is returned by Apply when the node stepped down
	// with the command in flight: it may or may not commit.
	ErrLeadershipLost = errors.New("coordinator: leadership lost with a command in flight")
)

// NewNode starts a coordinator: raft, the state machine and, whenever this
// node becomes leader, the lease manager and scheduler.
func NewNode(cfg Config) (*Node, error) {
	cfg.defaults()
	if cfg.ID == "" {
		return nil, errors.New("coordinator: --id is required")
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.ID), st: state.New(), notify: make(chan struct{}),
		stop: make(chan struct{}), leaving: make(chan struct{}), Metrics: newMetrics()}
	n.registerStateMetrics()
	n.pace = &snapshotPacer{}
	f := &fsm{st: n.st, applied: n.applied, pace: n.pace}

	raftLog := cfg.RaftLog
	if raftLog == nil {
		raftLog = os.Stderr
	}
	leaderCh := make(chan bool, 8)
	rc := raftConfig(cfg, raftLog, leaderCh)
	logs, stable, snaps, err := n.openStores(raftLog)
	if err != nil {
		return nil, err
	}
	trans := cfg.Transport
	if trans == nil {
		if trans, err = newTransport(cfg.RaftBind, cfg.RaftAdvertise, cfg.RaftTLS); err != nil {
			n.closeStores()
			return nil, err
		}
		n.closers = append(n.closers, trans.(io.Closer))
	}
	trans, n.gate = gateHeartbeats(trans)
	n.trans = trans
	hasState, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("coordinator: read raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, f, logs, stable, snaps, trans)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("coordinator: start raft: %w", err)
	}
	n.raft = r
	n.pace.attach(r)
	if !hasState && len(cfg.Peers) > 0 {
		var servers []raft.Server
		for _, p := range cfg.Peers {
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Raft), Suffrage: raft.Voter})
		}
		// Every node bootstraps with the same list; all but one attempt are
		// refused harmlessly once a leader exists.
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			n.log.Warn("bootstrap", "err", err)
		}
	}
	n.wg.Add(1)
	go n.watchLeadership(leaderCh)
	return n, nil
}

// raftConfig is raft's configuration for a node; leadership changes go to
// leaderCh.
func raftConfig(cfg Config, raftLog io.Writer, leaderCh chan bool) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: raftLog})
	rc.SnapshotThreshold = snapshotBaseThreshold
	rc.BatchApplyCh = true
	rc.SnapshotInterval = 30 * time.Second
	if cfg.Fast {
		rc.HeartbeatTimeout = 300 * time.Millisecond
		rc.ElectionTimeout = 300 * time.Millisecond
		rc.LeaderLeaseTimeout = 150 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}
	rc.NotifyCh = leaderCh
	return rc
}

// openStores opens the raft log, stable store and snapshots: in memory, or
// in the data folder (closed by closeStores).
func (n *Node) openStores(raftLog io.Writer) (raft.LogStore, raft.StableStore, raft.SnapshotStore, error) {
	if n.cfg.InMemory {
		mem := raft.NewInmemStore()
		return mem, mem, raft.NewInmemSnapshotStore(), nil
	}
	dir := n.cfg.DataDir
	if dir == "" {
		return nil, nil, nil, errors.New("coordinator: --data is required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, nil, fmt.Errorf("coordinator: data folder: %w", err)
	}
	// The freelist is not written at each commit: raft truncates its log
	// after every snapshot, so the free pages (and with them the cost of
	// writing the list on every append) grow with the log held between
	// snapshots. Opening rebuilds the list by a scan instead.
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 10 * time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("coordinator: raft log store %s: %w", filepath.Join(dir, "raft.db"), err)
	}
	fss, err := raft.NewFileSnapshotStore(dir, 2, raftLog)
	if err != nil {
		bolt.Close()
		return nil, nil, nil, fmt.Errorf("coordinator: snapshot store: %w", err)
	}
	n.closers = append(n.closers, bolt)
	return bolt, bolt, fss, nil
}

func (n *Node) closeStores() {
	for _, c := range n.closers {
		c.Close()
	}
}

// State is the replicated state (possibly stale on a follower).
func (n *Node) State() *state.State { return n.st }

// ID is the node's server id.
func (n *Node) ID() string { return n.cfg.ID }

// Raft exposes the raft instance (cluster administration, tests).
func (n *Node) Raft() *raft.Raft { return n.raft }

// IsLeader reports whether this node leads now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leading reports whether this node leads and has taken up the leader's
// work (leases, scheduling): the moment it serves workers and clients.
func (n *Node) Leading() bool { return n.leaderRole() != nil }

// LeaderAPI returns the leader's id and API address, if known.
func (n *Node) LeaderAPI() (id, addr string) {
	_, lid := n.raft.LeaderWithID()
	id = string(lid)
	if id == "" {
		return "", ""
	}
	if id == n.cfg.ID {
		return id, n.cfg.GRPCAdvertise // the directory may hold an older address of ours
	}
	for _, c := range n.st.Coordinators() {
		if c.Id == id {
			return id, c.GrpcAddress
		}
	}
	for _, p := range n.cfg.Peers {
		if p.ID == id {
			return id, p.GRPC
		}
	}
	return id, ""
}

// Apply proposes a command through raft and waits for it to be applied
// on this node.
func (n *Node) Apply(c *cfpb.Command) (*state.Response, error) {
	if c.NowNs == 0 {
		c.NowNs = time.Now().UnixNano()
	}
	b, err := proto.Marshal(c)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	fut := n.raft.Apply(b, n.cfg.ApplyTimeout)
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		if errors.Is(err, raft.ErrLeadershipLost) {
			return nil, fmt.Errorf("%w: %v", ErrLeadershipLost, err)
		}
		return nil, fmt.Errorf("coordinator: raft apply: %w", err)
	}
	n.Metrics.applyLatency.Observe(time.Since(start).Seconds())
	r, _ := fut.Response().(*state.Response)
	if r == nil {
		return &state.Response{}, nil
	}
	return r, r.Err
}

// applied runs on every replica after each command.
func (n *Node) applied(c *cfpb.Command, r *state.Response) {
	n.Metrics.observeApplied(r)
	if r.Alarms > 0 {
		n.log.Error("non-determinism alarm: a duplicate result differs from the recorded one", "count", r.Alarms)
	}
	n.mu.Lock()
	close(n.notify)
	n.notify = make(chan struct{})
	n.mu.Unlock()
}

// changed returns a channel closed at the next applied command.
func (n *Node) changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.notify
}

func (n *Node) watchLeadership(ch <-chan bool) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			n.setLeader(false)
			return
		case isLeader := <-ch:
			n.setLeader(isLeader)
		}
	}
}

func (n *Node) setLeader(on bool) {
	n.mu.Lock()
	old := n.leader
	n.leader = nil
	n.mu.Unlock()
	if old != nil {
		old.shutdown()
	}
	if !on {
		return
	}
	if !n.catchUp() {
		return
	}
	// Built and running before it is published: a worker stream may reach
	// it the moment leaderRole() returns it.
	lr := newLeaderRole(n)
	lr.start()
	n.mu.Lock()
	n.leader = lr
	n.mu.Unlock()
	n.log.Info("leading", "term", n.raft.Stats()["term"])
}

// catchUp waits until everything the previous leader committed is applied
// here; it reports false when leadership or the node ended first. A failed
// barrier is retried while raft still says we lead: giving up would leave a
// raft leader that never schedules.
func (n *Node) catchUp() bool {
	for {
		err := n.raft.Barrier(n.cfg.ApplyTimeout).Error()
		if err == nil {
			return true
		}
		n.log.Warn("barrier after election", "err", err)
		if n.raft.State() != raft.Leader {
			return false
		}
		select {
		case <-n.stop:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leaderRole returns the current leader role, or nil.
func (n *Node) leaderRole() *leaderRole {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

// Stop takes the node out of service within ctx's deadline: a leader
// hands its leadership to another coordinator first (so the cluster keeps
// scheduling without waiting for an election), then every worker and
// client stream ends (the workers reconnect to the new leader), then the
// API stops gracefully, cut short at the deadline, and the node shuts
// down.
func (n *Node) Stop(ctx context.Context, srv *grpc.Server) error {
	n.transferLeadership(ctx)
	n.leaveOnce.Do(func() { close(n.leaving) })
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		n.log.Warn("API did not stop in time; closing its connections")
		srv.Stop()
		<-stopped
	}
	return n.Shutdown()
}

// transferLeadership hands the leadership to another voter, if this node
// leads and has one, waiting at most until ctx ends.
func (n *Node) transferLeadership(ctx context.Context) {
	if !n.IsLeader() {
		return
	}
	done := make(chan error, 1)
	go func() { done <- n.raft.LeadershipTransfer().Error() }()
	select {
	case err := <-done:
		if err != nil {
			n.log.Warn("leadership transfer before stopping", "err", err)
			return
		}
		n.log.Info("leadership transferred before stopping")
	case <-ctx.Done():
		n.log.Warn("leadership transfer before stopping did not finish in time")
	}
}

// Shutdown stops the node: leadership (if any), raft and the stores.
func (n *Node) Shutdown() error {
	var err error
	n.stopOnce.Do(func() {
		close(n.stop)
		n.wg.Wait()
		err = n.raft.Shutdown().Error()
		n.gate.close()
		n.closeStores()
		n.fwd.close()
	})
	return err
}

// WaitLeader waits until some node leads, as seen from this one.
func (n *Node) WaitLeader(ctx context.Context) error {
	for {
		if id, _ := n.LeaderAPI(); id != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("coordinator %s: no leader elected: %w", n.cfg.ID, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
