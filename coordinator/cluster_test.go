package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// testCluster is n coordinators in one process: raft over the in-memory
// transport (so tests can partition it), gRPC over loopback TCP.
type testCluster struct {
	t      *testing.T
	nodes  []*coordinator.Node
	trans  []*raft.InmemTransport
	lis    []net.Listener
	fronts []*freezer // the API addresses everyone dials: proxies that can freeze
	srvs   []*grpc.Server
	peers  []coordinator.Peer
	cfg    coordinator.Config
	killed []bool
}

func newTestCluster(t *testing.T, n int, cfg coordinator.Config) *testCluster {
	t.Helper()
	c := &testCluster{t: t, cfg: cfg, killed: make([]bool, n)}
	for i := 0; i < n; i++ {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, tr := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("raft-c%d", i)))
		front := newFreezer(t, lis.Addr().String())
		t.Cleanup(front.close)
		c.lis = append(c.lis, lis)
		c.fronts = append(c.fronts, front)
		c.trans = append(c.trans, tr)
		c.peers = append(c.peers, coordinator.Peer{ID: fmt.Sprintf("c%d", i), Raft: fmt.Sprintf("raft-c%d", i), GRPC: front.addr()})
	}
	for i := range c.trans {
		for j := range c.trans {
			if i != j {
				c.trans[i].Connect(c.trans[j].LocalAddr(), c.trans[j])
			}
		}
	}
	c.nodes, c.srvs = make([]*coordinator.Node, n), make([]*grpc.Server, n)
	for i := 0; i < n; i++ {
		c.start(i)
	}
	t.Cleanup(c.close)
	return c
}

// start runs node i on its transport and listener; with cfg.DataDir set,
// its raft state lives in a folder of its own there, on disk.
func (c *testCluster) start(i int) {
	c.t.Helper()
	nc := c.cfg
	nc.ID, nc.GRPCAdvertise, nc.Transport, nc.Fast, nc.Peers = c.peers[i].ID, c.peers[i].GRPC, c.trans[i], true, c.peers
	nc.InMemory = c.cfg.DataDir == ""
	if !nc.InMemory {
		nc.DataDir = filepath.Join(c.cfg.DataDir, c.peers[i].ID)
	}
	if testing.Verbose() {
		nc.RaftLog = os.Stderr
	} else {
		nc.RaftLog = io.Discard
	}
	nd, err := coordinator.NewNode(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	srv := grpc.NewServer(coordinator.ServerOptions(nil)...)
	nd.Register(srv, nil)
	go srv.Serve(c.lis[i])
	c.nodes[i], c.srvs[i], c.killed[i] = nd, srv, false
}

// restart starts a stopped node i again, on a new listener at the same
// address and a new transport at the same raft address.
func (c *testCluster) restart(i int) {
	c.t.Helper()
	lis, err := net.Listen("tcp", c.lis[i].Addr().String())
	if err != nil {
		c.t.Fatal(err)
	}
	_, tr := raft.NewInmemTransport(c.trans[i].LocalAddr())
	c.lis[i], c.trans[i] = lis, tr
	for j := range c.trans {
		if j != i {
			tr.Connect(c.trans[j].LocalAddr(), c.trans[j])
			c.trans[j].Connect(tr.LocalAddr(), tr)
		}
	}
	c.start(i)
}

// crash kills node i hard, as a power cut would: no leadership transfer,
// no goodbye to the peers or the workers; its connections simply break.
// The node's remains are shut down only at the end of the test.
func (c *testCluster) crash(i int) {
	c.killed[i] = true
	c.partition(i)
	c.srvs[i].Stop()
	nd := c.nodes[i]
	c.t.Cleanup(func() { nd.Shutdown() })
}

func (c *testCluster) close() {
	for i := range c.nodes {
		if !c.killed[i] {
			c.kill(i)
		}
	}
}

// kill stops node i: its API and raft.
func (c *testCluster) kill(i int) {
	c.killed[i] = true
	c.srvs[i].Stop()
	c.nodes[i].Shutdown()
	for j := range c.trans {
		if j != i {
			c.trans[j].Disconnect(c.trans[i].LocalAddr())
		}
	}
}

// stop takes node i out of service the way SIGTERM does, within bound.
func (c *testCluster) stop(i int, bound time.Duration) error {
	c.killed[i] = true
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	err := c.nodes[i].Stop(ctx, c.srvs[i])
	for j := range c.trans {
		if j != i {
			c.trans[j].Disconnect(c.trans[i].LocalAddr())
		}
	}
	return err
}

// partition cuts node i off from the other coordinators' raft traffic.
func (c *testCluster) partition(i int) {
	c.trans[i].DisconnectAll()
	for j := range c.trans {
		if j != i {
			c.trans[j].Disconnect(c.trans[i].LocalAddr())
		}
	}
}

// freeze stops node i as SIGSTOP would, as far as the others can tell:
// its raft traffic is cut and its API connections stay open but carry
// nothing.
func (c *testCluster) freeze(i int) {
	c.partition(i)
	c.fronts[i].freeze(true)
}

func (c *testCluster) heal(i int) {
	for j := range c.trans {
		if j != i && !c.killed[j] {
			c.trans[i].Connect(c.trans[j].LocalAddr(), c.trans[j])
			c.trans[j].Connect(c.trans[i].LocalAddr(), c.trans[i])
		}
	}
}

// leader waits for a leader that serves (has taken up leadership) among
// the live, connected nodes (excluding skip) and returns its index.
func (c *testCluster) leader(skip int) int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, n := range c.nodes {
			if !c.killed[i] && i != skip && n.Leading() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return -1
}

// transferLeadership moves the leadership away from the current leader and
// returns the node that led. On a loaded machine the leader found may lose
// its term before the transfer starts ("not the leader"); then it asks the
// new one, within a deadline.
func (c *testCluster) transferLeadership() int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		lead := c.leader(-1)
		err := c.nodes[lead].Raft().LeadershipTransfer().Error()
		if err == nil {
			return lead
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipTransferInProgress) || time.Now().After(deadline) {
			c.t.Fatalf("leadership transfer from %s: %v", c.peers[lead].ID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *testCluster) addrs() []string {
	var out []string
	for _, p := range c.peers {
		out = append(out, p.GRPC)
	}
	return out
}

// client dials coordinator i.
func (c *testCluster) client(i int) (cfpb.SweepsClient, cfpb.ClusterClient) {
	c.t.Helper()
	conn, err := grpc.NewClient(c.peers[i].GRPC, coordinator.DialOptions(nil)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return cfpb.NewSweepsClient(conn), cfpb.NewClusterClient(conn)
}

// fakeSummary is a deterministic stand-in result for scheduler tests. Like
// the simulator, it gives every trial of a noise-free point (gamma and
// sigma_r 0 under these tests' default profile: sweep.TrialIndependent)
// the same numbers, which the coordinator computes once and copies.
func fakeSummary(w *cfpb.ShardWork) *cfpb.Summary {
	trial := w.Trial
	if w.Point.Gamma == 0 && w.Point.SigmaR == 0 {
		trial = 0
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", w.Point.Index, trial, w.Start, w.Count)
	v := h.Sum64()
	return &cfpb.Summary{Images: int64(w.Count), Correct: int64(v % uint64(w.Count+1)),
		Signal: []*cfpb.Sum128{{Hi: v >> 40, Lo: v}}, Noise: []*cfpb.Sum128{{Hi: v >> 50, Lo: v * 3}}}
}

// workerPool runs and kills workers.
type workerPool struct {
	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	done    sync.WaitGroup
}

func (p *workerPool) start(ctx context.Context, id string, w *worker.Worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancels == nil {
		p.cancels = map[string]context.CancelFunc{}
	}
	wctx, cancel := context.WithCancel(ctx)
	p.cancels[id] = cancel
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		w.Run(wctx)
	}()
}

func (p *workerPool) kill(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cancels[id]; c != nil {
		c()
		delete(p.cancels, id)
	}
}

func (p *workerPool) stopAll() {
	p.mu.Lock()
	for _, c := range p.cancels {
		c()
	}
	p.cancels = nil
	p.mu.Unlock()
	p.done.Wait()
}

func waitDone(t *testing.T, cl cfpb.SweepsClient, id string, timeout time.Duration) *cfpb.Sweep {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *cfpb.Sweep
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		sw, err := cl.Get(ctx, &cfpb.SweepRef{Id: id})
		cancel()
		if err == nil {
			last = sw
			if sw.State == cfpb.SweepState_SWEEP_STATE_DONE {
				return sw
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sweep %s not done in %v; last seen %v", id, timeout, last)
	return nil
}

// retryWithin is how long tests wait out an election or a takeover, the
// same way the command-line client does.
const retryWithin = 30 * time.Second

// submit submits spec through cl, waiting out the cluster's passing
// refusals.
func submit(t *testing.T, cl cfpb.SweepsClient, spec *cfpb.SweepSpec) *cfpb.Sweep {
	t.Helper()
	var sw *cfpb.Sweep
	err := coordinator.Retry(context.Background(), retryWithin, coordinator.RetryRefusals, func(ctx context.Context) (err error) {
		sw, err = cl.Submit(ctx, &cfpb.SubmitRequest{Spec: spec})
		return err
	})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return sw
}

// results reads every point's results of a sweep, reading again from the
// start when a leader change breaks the stream.
func results(t *testing.T, cl cfpb.SweepsClient, id string) []*cfpb.PointResult {
	t.Helper()
	var got []*cfpb.PointResult
	err := coordinator.Retry(context.Background(), retryWithin, coordinator.RetryUnavailable, func(ctx context.Context) error {
		got = nil
		stream, err := cl.Results(ctx, &cfpb.SweepRef{Id: id})
		if err != nil {
			return err
		}
		for {
			p, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			got = append(got, p)
		}
	})
	if err != nil {
		t.Fatalf("results of %s: %v", id, err)
	}
	return got
}

func mustSpec(t testing.TB, y string) *cfpb.SweepSpec {
	t.Helper()
	s, err := sweep.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestThreeNodeClusterUnderLoadSurvivesPartitionedLeaderAndKilledFollower(t *testing.T) {
	// The lease outlives a loaded machine's pauses: an expiry would rerun
	// a shard, and the test asserts none is.
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 10 * time.Second, HeartbeatInterval: 200 * time.Millisecond,
		Grace: 5 * time.Second, BackoffBase: 50 * time.Millisecond})
	first := c.leader(-1)
	sweeps, _ := c.client((first + 1) % 3) // through a follower: forwarding
	spec := mustSpec(t, `
model: {path: unused.safetensors}
dataset: {kind: mnist, limit: 2000}
grid: {gamma: [0, 1, 2, 3], clip: [off, {alpha: 2, beta: 0.25}, {alpha: 3, beta: 0.5}]}
trials: 2
images_per_shard: 20
`)
	sw := submit(t, sweeps, spec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	var mu sync.Mutex
	runs := map[int32]int{}
	run := func(ctx context.Context, s *cfpb.SweepSpec, w *cfpb.ShardWork, progress func(int)) (*cfpb.Summary, error) {
		select {
		case <-time.After(2 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		mu.Lock()
		runs[w.Shard]++
		mu.Unlock()
		return fakeSummary(w), nil
	}
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("w%d", i)
		pool.start(ctx, id, worker.New(worker.Config{ID: id, Coordinators: c.addrs(), Slots: 4, Run: run, RetryDelay: 50 * time.Millisecond}))
	}
	// Let work flow, then cut the leader off.
	time.Sleep(300 * time.Millisecond)
	c.partition(first)
	second := c.leader(first)
	t.Logf("leader c%d partitioned; c%d leads", first, second)
	time.Sleep(300 * time.Millisecond)
	// Heal the old leader (it rejoins as a follower and catches up), then
	// kill the other follower: the cluster keeps a quorum of two.
	c.heal(first)
	follower := 3 - first - second
	c.kill(follower)
	t.Logf("healed c%d; killed follower c%d", first, follower)
	sweepsLive, _ := c.client(second)
	done := waitDone(t, sweepsLive, sw.Id, 60*time.Second)
	if done.Progress.Done != int64(done.Shards) || done.Progress.Failed != 0 || done.Alarms != 0 {
		t.Fatalf("sweep %v", done)
	}
	// Every shard's recorded result is the deterministic one.
	got := results(t, sweepsLive, sw.Id)
	l, _ := sweep.NewLayout(spec)
	want := sweep.Aggregate(l, func(int) cfpb.ShardState { return cfpb.ShardState_SHARD_STATE_DONE },
		func(k int) *cfpb.Summary { return fakeSummary(l.Shard("", k)) })
	assertSameResults(t, got, want)
	mu.Lock()
	rerun := 0
	for _, n := range runs {
		rerun += n - 1
	}
	mu.Unlock()
	if rerun != 0 {
		t.Fatalf("%d of %d shards computed more than once across the partition and the kill; want none", rerun, done.Shards)
	}
}

func assertSameResults(t *testing.T, got, want []*cfpb.PointResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i].Trials) != len(want[i].Trials) {
			t.Fatalf("point %d: %d trials, want %d", i, len(got[i].Trials), len(want[i].Trials))
		}
		for tr := range want[i].Trials {
			g, w := got[i].Trials[tr], want[i].Trials[tr]
			if g.Images != w.Images || g.Correct != w.Correct || len(g.Signal) != len(w.Signal) {
				t.Fatalf("point %d trial %d: got %v want %v", i, tr, g, w)
			}
			for b := range w.Signal {
				if g.Signal[b].Hi != w.Signal[b].Hi || g.Signal[b].Lo != w.Signal[b].Lo ||
					g.Noise[b].Hi != w.Noise[b].Hi || g.Noise[b].Lo != w.Noise[b].Lo {
					t.Fatalf("point %d trial %d block %d: sums differ", i, tr, b)
				}
			}
		}
	}
}

// A sweep submitted the moment the coordinators start, before any election,
// is refused for a moment (no leader yet, a node taking up leadership) and
// gets through on a retry.
func TestSubmitDuringTheFirstElectionGetsThroughOnRetry(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true})
	sweeps, _ := c.client(0) // no wait for a leader
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 4}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	calls := 0
	err := coordinator.Retry(context.Background(), retryWithin, coordinator.RetryRefusals, func(ctx context.Context) error {
		calls++
		_, err := sweeps.Submit(ctx, &cfpb.SubmitRequest{Spec: spec})
		return err
	})
	if err != nil {
		t.Fatalf("submit after %d calls: %v", calls, err)
	}
	if calls < 2 {
		t.Fatalf("the first submit got through before any election (%d call); the test proves nothing", calls)
	}
}

// A leader stopped while a worker is connected and mid-shard hands over its
// leadership, ends the worker's stream and stops well within its bound;
// the worker carries on with the new leader and the sweep completes.
func TestStoppingALeaderWithAConnectedWorkerEndsWithinItsBound(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 5 * time.Second, HeartbeatInterval: 100 * time.Millisecond})
	lead := c.leader(-1)
	sweeps, _ := c.client((lead + 1) % 3)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 4}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	started, release := make(chan struct{}, 8), make(chan struct{})
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return fakeSummary(w), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	pool.start(ctx, "w", worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 1, Run: run, RetryDelay: 20 * time.Millisecond}))
	sw := submit(t, sweeps, spec)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker never started a shard")
	}
	begin := time.Now()
	if err := c.stop(lead, 10*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("stopping the leader took %v with a worker connected; want well under its 10 s bound", took)
	}
	close(release)
	live, _ := c.client(c.leader(lead))
	done := waitDone(t, live, sw.Id, 60*time.Second)
	if done.Progress.Done != 4 || done.Progress.Failed != 0 {
		t.Fatalf("sweep %v", done)
	}
}

// progressOf is a sweep's done count as a coordinator sees it, or -1.
func progressOf(cl cfpb.SweepsClient, id string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sw, err := cl.Get(ctx, &cfpb.SweepRef{Id: id})
	if err != nil {
		return -1
	}
	return sw.Progress.Done
}

// A leader frozen mid-sweep (its connections open but silent, as under
// SIGSTOP or `docker pause`) is left behind within seconds: the others
// elect a new leader, the workers find their streams dead by the missing
// Pings and move to it, and shards complete again long before gRPC's
// keepalive alone would notice (13 s).
func TestFrozenLeaderIsLeftBehindWithinSeconds(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 5 * time.Second, HeartbeatInterval: 100 * time.Millisecond,
		PingInterval: 200 * time.Millisecond, Grace: time.Second, BackoffBase: 50 * time.Millisecond})
	lead := c.leader(-1)
	sweeps, _ := c.client((lead + 1) % 3)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 600}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n")
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return fakeSummary(w), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("w%d", i)
		pool.start(ctx, id, worker.New(worker.Config{ID: id, Coordinators: c.addrs(), Slots: 2, Run: run,
			RetryDelay: 50 * time.Millisecond, Silence: time.Second}))
	}
	sw := submit(t, sweeps, spec)
	for deadline := time.Now().Add(30 * time.Second); progressOf(sweeps, sw.Id) < 20; {
		if time.Now().After(deadline) {
			t.Fatal("no progress before the freeze")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.freeze(lead)
	frozen := time.Now()
	live, _ := c.client(c.leader(lead))
	before := int64(-1)
	for before < 0 && time.Since(frozen) < 20*time.Second {
		before = progressOf(live, sw.Id)
	}
	for progressOf(live, sw.Id) <= before {
		if time.Since(frozen) > 20*time.Second {
			t.Fatalf("no shard completed in 20 s after the leader froze")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(frozen); took > 8*time.Second {
		t.Fatalf("shards completed again %v after the leader froze; want a few seconds", took)
	} else {
		t.Logf("shards completed again %v after the leader froze", took.Round(time.Millisecond))
	}
	done := waitDone(t, live, sw.Id, 60*time.Second)
	if done.Progress.Done != 600 || done.Progress.Failed != 0 {
		t.Fatalf("sweep %v", done)
	}
}

// A worker that stays connected but goes silent (no heartbeat, no result)
// has its lease expire: it is told to stop, the attempt counts, and the
// shard goes to another worker.
func TestSilentConnectedWorkerLosesItsLeaseAndTheShardIsReassigned(t *testing.T) {
	c := newTestCluster(t, 1, coordinator.Config{Embedded: true, LeaseTTL: time.Second, HeartbeatInterval: 100 * time.Millisecond,
		BackoffBase: 10 * time.Millisecond})
	c.leader(-1)
	sweeps, _ := c.client(0)
	conn, err := grpc.NewClient(c.peers[0].GRPC, coordinator.DialOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	silent, err := cfpb.NewWorkClient(conn).Work(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*cfpb.WorkerMessage{{Msg: &cfpb.WorkerMessage_Hello{Hello: &cfpb.Hello{WorkerId: "silent", Slots: 1}}},
		{Msg: &cfpb.WorkerMessage_Credit{Credit: &cfpb.Credit{Slots: 1}}}} {
		if err := silent.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	sw := submit(t, sweeps, mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 1}\ngrid: {gamma: [0]}\nimages_per_shard: 1\n"))
	var lease *cfpb.LeaseRef
	for lease == nil {
		m, err := silent.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if a := m.GetAssign(); a != nil {
			lease = a.Lease
		}
	}
	// Silent from here on: it only listens.
	cancelled := make(chan *cfpb.LeaseRef, 1)
	go func() {
		for {
			m, err := silent.Recv()
			if err != nil {
				return
			}
			if l := m.GetCancel(); l != nil {
				cancelled <- l
			}
		}
	}()
	var pool workerPool
	defer pool.stopAll()
	pool.start(ctx, "w", worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 1, RetryDelay: 20 * time.Millisecond,
		Run: func(_ context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
			return fakeSummary(w), nil
		}}))
	done := waitDone(t, sweeps, sw.Id, 30*time.Second)
	select {
	case l := <-cancelled:
		if l.LeaseId != lease.LeaseId {
			t.Fatalf("cancelled lease %v, want %v", l, lease)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the silent worker was never told its lease ended")
	}
	sh, err := c.nodes[0].State().Shard(sw.Id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if done.Progress.Done != 1 || sh.Worker != "w" || sh.Attempt != 2 || sh.Failures != 1 {
		t.Fatalf("shard %v; want done by w on the second attempt, the silent one's counted", sh)
	}
}

// fakeRuns is a Runner of fake summaries that counts how often each shard
// was computed to the end.
type fakeRuns struct {
	mu   sync.Mutex
	runs map[int32]int
}

func (f *fakeRuns) run(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
	select {
	case <-time.After(5 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs == nil {
		f.runs = map[int32]int{}
	}
	f.runs[w.Shard]++
	return fakeSummary(w), nil
}

// checkFakeResults compares a done sweep's results with the fake ones.
func checkFakeResults(t *testing.T, cl cfpb.SweepsClient, spec *cfpb.SweepSpec, id string) {
	t.Helper()
	l, _ := sweep.NewLayout(spec)
	want := sweep.Aggregate(l, func(int) cfpb.ShardState { return cfpb.ShardState_SHARD_STATE_DONE },
		func(k int) *cfpb.Summary { return fakeSummary(l.Shard("", k)) })
	assertSameResults(t, results(t, cl, id), want)
}

// A leader killed hard mid-sweep (no leadership transfer, its connections
// simply break) costs an election and nothing else: the sweep completes on
// the new leader with every result right and no shard failed.
func TestLeaderKilledHardMidSweepLosesNothing(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, LeaseTTL: 10 * time.Second, HeartbeatInterval: 100 * time.Millisecond,
		Grace: 5 * time.Second, BackoffBase: 50 * time.Millisecond})
	lead := c.leader(-1)
	sweeps, _ := c.client((lead + 1) % 3)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 400}\ngrid: {gamma: [0, 1]}\nimages_per_shard: 1\n")
	var f fakeRuns
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("w%d", i)
		pool.start(ctx, id, worker.New(worker.Config{ID: id, Coordinators: c.addrs(), Slots: 2, Run: f.run, RetryDelay: 20 * time.Millisecond}))
	}
	sw := submit(t, sweeps, spec)
	for deadline := time.Now().Add(30 * time.Second); progressOf(sweeps, sw.Id) < 50; {
		if time.Now().After(deadline) {
			t.Fatal("no progress before the crash")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.crash(lead)
	live, _ := c.client(c.leader(lead))
	done := waitDone(t, live, sw.Id, 60*time.Second)
	if done.Progress.Done != int64(done.Shards) || done.Progress.Failed != 0 || done.Alarms != 0 {
		t.Fatalf("sweep %v", done)
	}
	checkFakeResults(t, live, spec, sw.Id)
}

// Three coordinators stopped and started again from their disks come back
// with everything: the finished sweep and its results, and they elect a
// leader that runs a new sweep.
func TestThreeNodesRestartedFromTheirDisksKeepEverything(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, DataDir: t.TempDir(), LeaseTTL: 10 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond, BackoffBase: 50 * time.Millisecond})
	c.leader(-1)
	sweeps, _ := c.client(0)
	spec := mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 200}\ngrid: {gamma: [0, 1]}\nimages_per_shard: 1\n")
	var f fakeRuns
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pool workerPool
	defer pool.stopAll()
	pool.start(ctx, "w", worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 4, Run: f.run, RetryDelay: 20 * time.Millisecond}))
	first := submit(t, sweeps, spec)
	waitDone(t, sweeps, first.Id, 60*time.Second)

	for i := range c.nodes {
		c.kill(i)
	}
	for i := range c.nodes {
		c.restart(i)
	}
	lead := c.leader(-1)
	live, _ := c.client(lead)
	got := waitDone(t, live, first.Id, 30*time.Second) // read from the restored state
	if got.Progress.Done != int64(got.Shards) {
		t.Fatalf("after the restart: %v", got)
	}
	checkFakeResults(t, live, spec, first.Id)
	second := submit(t, live, spec)
	waitDone(t, live, second.Id, 60*time.Second)
	checkFakeResults(t, live, spec, second.Id)
}
