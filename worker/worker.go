// Package worker runs shards for a coordinator cluster. A worker keeps one
// Work stream open to the leader (following redirects from followers), pulls
// work with credits (never more leases than free slots), runs each shard on
// the real simulator (Executor), heartbeats with progress, and keeps every
// result and failure report until the leader acknowledges it, re-sending
// them after reconnects. On drain it finishes what it holds and takes
// nothing new.
package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/internal/version"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Runner computes one shard; Executor.Run is the real one.
type Runner func(ctx context.Context, spec *cfpb.SweepSpec, w *cfpb.ShardWork, progress func(done int)) (*cfpb.Summary, error)

// Config configures a worker.
type Config struct {
	ID           string   // stable worker id
	Coordinators []string // API addresses; any one will do
	Slots        int      // shards run at once (default 1)
	Run          Runner
	TLS          *tls.Config // nil: plain text (needs an explicit --insecure upstream)
	Logger       *slog.Logger
	// RetryDelay is the pause between connection attempts (default 1 s).
	RetryDelay time.Duration
	// Silence is how long a stream may stay silent before its Welcome
	// (default 5 s); after it, four of the coordinator's ping intervals.
	Silence time.Duration
	// Metrics receives the worker's metrics (default: new ones; see
	// Worker.Metrics).
	Metrics *Metrics
}

// Worker is one worker process's connection to the cluster.
type Worker struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	running  map[leaseKey]*task
	held     int                  // tasks that own a slot (see task.ownsSlot)
	unacked  map[leaseKey]*report // results and failures, waiting for Ack
	draining bool
	sendCh   chan *cfpb.WorkerMessage // the current stream's sender, if any
	drained  chan struct{}            // closed when draining and idle
	done     int64                    // results acknowledged
}

type leaseKey struct {
	sweep string
	shard int32
}

// report is a result or a failure the worker keeps, and re-sends, until
// the leader acknowledges its lease: neither may be lost with a stream.
type report struct {
	msg    *cfpb.WorkerMessage
	lease  *cfpb.LeaseRef
	sentAt time.Time // zero: not sent on the current stream
}

type task struct {
	lease  *cfpb.LeaseRef
	cancel context.CancelFunc
	images int // progress
	// ownsSlot: the coordinator counts this task against one of our slots,
	// to be credited back when it ends (false once a reconnect has
	// credited the slot already).
	ownsSlot bool
}

// New returns a worker; Run connects it.
func New(cfg Config) *Worker {
	if cfg.Slots < 1 {
		cfg.Slots = 1
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Second
	}
	if cfg.Silence == 0 {
		cfg.Silence = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	cfg.Metrics.slots.Set(float64(cfg.Slots))
	cfg.ID = IDFor(cfg.TLS, cfg.ID)
	return &Worker{cfg: cfg, log: cfg.Logger.With("worker", cfg.ID), running: map[leaseKey]*task{},
		unacked: map[leaseKey]*report{}, drained: make(chan struct{})}
}

// IDFor is the id a worker with this TLS configuration and asked-for id
// uses: the coordinators accept only its certificate's name or
// NAME/SUFFIX, so an id that is neither becomes NAME/ID (workers sharing a
// certificate keep distinct ids). Without TLS the id is used as it is.
func IDFor(cfg *tls.Config, id string) string {
	name := certName(cfg)
	switch {
	case name == "" || id == name || strings.HasPrefix(id, name+"/"):
		return id
	case id == "":
		return name
	}
	return name + "/" + id
}

// certName is the common name of the client certificate in cfg, or "".
func certName(cfg *tls.Config) string {
	if cfg == nil || len(cfg.Certificates) == 0 {
		return ""
	}
	c := cfg.Certificates[0]
	if c.Leaf != nil {
		return c.Leaf.Subject.CommonName
	}
	if len(c.Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return ""
	}
	return leaf.Subject.CommonName
}

// ID is the worker's id as the coordinators know it (see IDFor).
func (w *Worker) ID() string { return w.cfg.ID }

// Metrics are the worker's Prometheus metrics.
func (w *Worker) Metrics() *Metrics { return w.cfg.Metrics }

// runningChangedLocked publishes the number of running shards.
func (w *Worker) runningChangedLocked() {
	w.cfg.Metrics.slotsInUse.Set(float64(len(w.running)))
}

// Drain stops taking work; Run returns once the held shards are finished
// and acknowledged.
func (w *Worker) Drain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.draining {
		return
	}
	w.draining = true
	w.cfg.Metrics.draining.Set(1)
	w.sendLocked(&cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Hello{Hello: &cfpb.Hello{WorkerId: w.cfg.ID, Draining: true}}})
	w.checkDrainedLocked()
}

func (w *Worker) checkDrainedLocked() {
	if w.draining && len(w.running) == 0 && len(w.unacked) == 0 {
		select {
		case <-w.drained:
		default:
			close(w.drained)
		}
	}
}

// Acknowledged is the number of results the cluster has acknowledged.
func (w *Worker) Acknowledged() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// Run keeps the worker connected until ctx ends or a drain completes.
func (w *Worker) Run(ctx context.Context) error {
	if len(w.cfg.Coordinators) == 0 {
		return errors.New("worker: no coordinator address")
	}
	if w.cfg.Run == nil {
		return errors.New("worker: no runner")
	}
	next := 0
	hint := ""
	for {
		addr := hint
		if addr == "" {
			addr = w.cfg.Coordinators[next%len(w.cfg.Coordinators)]
			next++
		}
		var err error
		hint, err = w.session(ctx, addr)
		select {
		case <-w.drained:
			w.log.Info("drained")
			return nil
		default:
		}
		if ctx.Err() != nil {
			w.stopAll()
			return nil
		}
		if err != nil {
			if status.Code(err) == codes.Unauthenticated || status.Code(err) == codes.PermissionDenied {
				return fmt.Errorf("worker: coordinator %s refused us: %w", addr, err)
			}
			w.log.Info("stream ended", "coordinator", addr, "err", err, "leader_hint", hint)
		}
		if hint == "" {
			select {
			case <-ctx.Done():
				w.stopAll()
				return nil
			case <-w.drained:
				return nil
			case <-time.After(w.cfg.RetryDelay):
			}
		}
	}
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.running {
		t.cancel()
	}
}

func (w *Worker) dial(addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if w.cfg.TLS != nil {
		creds = credentials.NewTLS(w.cfg.TLS)
	}
	// The coordinator's keepalive policy allows a ping every 5 s; 10 s is
	// the shortest interval gRPC lets a client use. The stream's own
	// liveness check (see watchdog) finds a frozen leader sooner.
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}))
}

// session runs one stream to addr; it returns the leader's address when the
// coordinator redirected us.
func (w *Worker) session(ctx context.Context, addr string) (string, error) {
	conn, err := w.dial(addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watched from the start: a frozen coordinator accepts the connection
	// but never completes the HTTP/2 handshake.
	errc := make(chan error, 2) // the watchdog's and the sender's
	dog := newWatchdog(w.cfg.Silence)
	go func() { errc <- dog.watch(sctx, cancel, addr) }()
	stream, err := cfpb.NewWorkClient(conn).Work(sctx)
	if err != nil {
		return "", dog.explain(err)
	}
	welcome, err := w.greet(stream, addr, dog)
	if err != nil {
		return leaderHint(stream), dog.explain(err)
	}
	w.log.Info("connected", "coordinator", welcome.CoordinatorId, "address", addr)
	if ping := time.Duration(welcome.PingIntervalMs) * time.Millisecond; ping > 0 {
		dog.limit.Store(int64(max(4*ping, time.Second)))
	}
	hbEvery := time.Duration(welcome.HeartbeatIntervalMs) * time.Millisecond
	if hbEvery <= 0 {
		hbEvery = 5 * time.Second
	}
	send := w.attach(welcome)
	defer w.detach(send)
	go func() { errc <- w.sendLoop(sctx, stream, send, hbEvery) }()
	received := make(chan error, 1)
	go func() { received <- w.receiveLoop(ctx, stream, send, dog) }()
	select {
	case err = <-received:
	case err = <-errc:
		// The trailer may be read only once Recv has returned.
		cancel()
		<-received
	case <-w.drained:
		return "", nil
	case <-ctx.Done():
		return "", nil
	}
	return leaderHint(stream), dog.explain(err)
}

// greet sends Hello, with every lease the worker still holds, and reads
// the coordinator's Welcome.
func (w *Worker) greet(stream cfpb.Work_WorkClient, addr string, dog *watchdog) (*cfpb.Welcome, error) {
	if err := stream.Send(&cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Hello{Hello: w.hello()}}); err != nil {
		return nil, recvErr(stream, err)
	}
	first, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	dog.heard()
	welcome := first.GetWelcome()
	if welcome == nil {
		return nil, fmt.Errorf("worker: coordinator %s answered Hello with %T", addr, first.Msg)
	}
	return welcome, nil
}

// hello describes the worker and the leases it holds.
func (w *Worker) hello() *cfpb.Hello {
	w.mu.Lock()
	defer w.mu.Unlock()
	hello := &cfpb.Hello{WorkerId: w.cfg.ID, Version: version.String(), Slots: int32(w.cfg.Slots), Draining: w.draining}
	for _, t := range w.running {
		hello.Held = append(hello.Held, t.lease)
	}
	// Finished but unacknowledged shards are held too: otherwise the new
	// leader lets their leases go, as lost, and computes them again
	// elsewhere (or, for a failure, does not count the attempt).
	for k, p := range w.unacked {
		if _, ok := w.running[k]; !ok {
			hello.Held = append(hello.Held, p.lease)
		}
	}
	return hello
}

// attach makes a new stream the current one: it drops the leases the
// coordinator did not re-adopt, queues the free slots as credit and marks
// every unacknowledged result for sending again.
func (w *Worker) attach(welcome *cfpb.Welcome) chan *cfpb.WorkerMessage {
	send := make(chan *cfpb.WorkerMessage, 4096)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range welcome.Dropped {
		if t, ok := w.running[leaseKey{d.SweepId, d.Shard}]; ok && t.lease.LeaseId == d.LeaseId {
			t.cancel()
			delete(w.running, leaseKey{d.SweepId, d.Shard})
			w.runningChangedLocked()
			if t.ownsSlot {
				t.ownsSlot = false
				w.held--
			}
		}
	}
	// The coordinator ignores a duplicate result and acknowledges it.
	for _, p := range w.unacked {
		p.sentAt = time.Time{}
	}
	free := w.cfg.Slots - w.held
	if !w.draining && free > 0 {
		send <- &cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Credit{Credit: &cfpb.Credit{Slots: int32(free)}}}
	}
	w.sendCh = send
	w.cfg.Metrics.connected.Set(1)
	w.checkDrainedLocked()
	return send
}

// detach forgets a stream that ended.
func (w *Worker) detach(send chan *cfpb.WorkerMessage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sendCh == send {
		w.sendCh = nil
		w.cfg.Metrics.connected.Set(0)
	}
}

// sendLoop sends queued messages, heartbeats and the results that are due
// again, until ctx ends or a send fails.
func (w *Worker) sendLoop(ctx context.Context, stream cfpb.Work_WorkClient, send <-chan *cfpb.WorkerMessage, hbEvery time.Duration) error {
	tick := time.NewTicker(hbEvery)
	defer tick.Stop()
	batch := w.toResend(0)
	for {
		for _, m := range batch {
			if err := stream.Send(m); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-send:
			batch = []*cfpb.WorkerMessage{m}
		case <-tick.C:
			batch = append([]*cfpb.WorkerMessage{w.heartbeat()}, w.toResend(2*hbEvery)...)
		}
	}
}

// receiveLoop handles the coordinator's messages until the stream ends.
func (w *Worker) receiveLoop(ctx context.Context, stream cfpb.Work_WorkClient, send chan *cfpb.WorkerMessage, dog *watchdog) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		dog.heard()
		w.handle(ctx, m, send)
	}
}

// watchdog ends a stream on which the coordinator has said nothing for
// too long: a frozen or cut-off leader keeps the connection open but
// sends no Ping, and the worker must move on to the new leader.
type watchdog struct {
	last  atomic.Int64 // unix nanoseconds of the last message
	limit atomic.Int64 // nanoseconds of silence allowed
	fired atomic.Bool
}

func newWatchdog(limit time.Duration) *watchdog {
	d := &watchdog{}
	d.limit.Store(int64(limit))
	d.heard()
	return d
}

func (d *watchdog) heard() { d.last.Store(time.Now().UnixNano()) }

// watch cancels the stream once the silence passes the limit, and returns
// why; it returns nil when ctx ends first.
func (d *watchdog) watch(ctx context.Context, cancel context.CancelFunc, addr string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			silent := now.Sub(time.Unix(0, d.last.Load()))
			if silent > time.Duration(d.limit.Load()) {
				d.fired.Store(true)
				cancel()
				return fmt.Errorf("worker: coordinator %s silent for %v; taking the stream for dead", addr, silent.Round(time.Millisecond))
			}
		}
	}
}

// explain replaces the cancellation a watchdog caused by its reason.
func (d *watchdog) explain(err error) error {
	if d.fired.Load() && status.Code(err) == codes.Canceled {
		return errors.New("worker: the coordinator went silent; taking the stream for dead")
	}
	return err
}

func recvErr(stream cfpb.Work_WorkClient, err error) error {
	if errors.Is(err, io.EOF) {
		if _, rerr := stream.Recv(); rerr != nil {
			return rerr
		}
	}
	return err
}

func leaderHint(stream grpc.ClientStream) string {
	var md metadata.MD = stream.Trailer()
	if v := md.Get(cfpb.LeaderTrailer); len(v) > 0 {
		return v[0]
	}
	return ""
}

// toResend lists the unacknowledged reports not sent on this stream, or
// sent longer than age ago.
func (w *Worker) toResend(age time.Duration) []*cfpb.WorkerMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	var out []*cfpb.WorkerMessage
	for _, p := range w.unacked {
		if p.sentAt.IsZero() || (age > 0 && now.Sub(p.sentAt) > age) {
			p.sentAt = now
			out = append(out, p.msg)
		}
	}
	return out
}

// sendLocked queues m on the current stream without blocking; a message
// that does not fit is dropped: a result or failure stays unacknowledged
// and goes again, a credit is restored on the next reconnect.
func (w *Worker) sendLocked(m *cfpb.WorkerMessage) bool {
	if w.sendCh == nil {
		return false
	}
	select {
	case w.sendCh <- m:
		return true
	default:
		return false
	}
}

// creditSlotLocked gives the coordinator one slot back, unless draining.
func (w *Worker) creditSlotLocked() {
	if !w.draining {
		w.sendLocked(&cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Credit{Credit: &cfpb.Credit{Slots: 1}}})
	}
}

func (w *Worker) heartbeat() *cfpb.WorkerMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	hb := &cfpb.Heartbeat{}
	for _, t := range w.running {
		hb.Progress = append(hb.Progress, &cfpb.ShardProgress{Lease: t.lease, ImagesDone: int32(t.images)})
	}
	return &cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Heartbeat{Heartbeat: hb}}
}

func (w *Worker) handle(ctx context.Context, m *cfpb.CoordinatorMessage, send chan *cfpb.WorkerMessage) {
	switch msg := m.Msg.(type) {
	case *cfpb.CoordinatorMessage_Assign:
		a := msg.Assign
		if a.GetLease() == nil || a.Spec == nil || a.Work == nil {
			// A confused peer: refuse the assignment rather than crash.
			w.log.Warn("assignment without lease, spec or work: ignored", "lease", a.GetLease())
			if a.GetLease() != nil {
				w.mu.Lock()
				w.reportLocked(a.Lease, &cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Failure{Failure: &cfpb.ShardFailure{Lease: a.Lease,
					Error: "worker: assignment without spec or work"}}})
				w.creditSlotLocked()
				w.mu.Unlock()
			}
			return
		}
		w.start(ctx, a)
	case *cfpb.CoordinatorMessage_Cancel:
		w.mu.Lock()
		k := leaseKey{msg.Cancel.SweepId, msg.Cancel.Shard}
		if t, ok := w.running[k]; ok && t.lease.LeaseId == msg.Cancel.LeaseId {
			t.cancel()
		}
		w.mu.Unlock()
	case *cfpb.CoordinatorMessage_Ack:
		w.mu.Lock()
		k := leaseKey{msg.Ack.SweepId, msg.Ack.Shard}
		if p, ok := w.unacked[k]; ok && p.lease.LeaseId == msg.Ack.LeaseId {
			delete(w.unacked, k)
			if p.msg.GetResult() != nil {
				w.done++
				w.cfg.Metrics.acknowledged.Inc()
			}
		}
		w.checkDrainedLocked()
		w.mu.Unlock()
	case *cfpb.CoordinatorMessage_Drain:
		w.Drain()
	}
}

func (w *Worker) start(ctx context.Context, a *cfpb.Assign) {
	tctx, cancel := context.WithCancel(ctx)
	t := &task{lease: a.Lease, cancel: cancel, ownsSlot: true}
	k := leaseKey{a.Lease.SweepId, a.Lease.Shard}
	w.mu.Lock()
	w.held++
	if old, ok := w.running[k]; ok {
		old.cancel()
	}
	w.running[k] = t
	w.runningChangedLocked()
	w.mu.Unlock()
	go func() {
		defer cancel()
		begin := time.Now()
		sum, err := w.runSafely(tctx, a, t)
		took := time.Since(begin)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.running[k] == t {
			delete(w.running, k)
			w.runningChangedLocked()
		}
		var msg *cfpb.WorkerMessage
		outcome := "done"
		switch {
		case tctx.Err() != nil:
			// Cancelled (or shutting down): the coordinator already knows.
			outcome = "cancelled"
		case err != nil:
			outcome = "failed"
			w.log.Warn("shard failed", "sweep", k.sweep, "shard", k.shard, "err", err)
			msg = &cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Failure{Failure: &cfpb.ShardFailure{Lease: a.Lease,
				Error: err.Error(), Local: errors.Is(err, ErrLocal)}}}
		default:
			msg = &cfpb.WorkerMessage{Msg: &cfpb.WorkerMessage_Result{Result: Result(a.Lease, w.cfg.ID, sum, took)}}
			// Images the shard did not report as progress.
			w.cfg.Metrics.images.Add(float64(max(sum.GetImages()-int64(t.images), 0)))
		}
		w.cfg.Metrics.shardSeconds.WithLabelValues(outcome).Observe(took.Seconds())
		if msg != nil {
			w.reportLocked(a.Lease, msg)
		}
		if t.ownsSlot {
			t.ownsSlot = false
			w.held--
			w.creditSlotLocked()
		}
		w.checkDrainedLocked()
	}()
}

// reportLocked keeps a result or failure until its Ack and sends it now
// if a stream is open; otherwise it goes on the next stream.
func (w *Worker) reportLocked(lease *cfpb.LeaseRef, msg *cfpb.WorkerMessage) {
	p := &report{msg: msg, lease: lease}
	w.unacked[leaseKey{lease.SweepId, lease.Shard}] = p
	if w.sendLocked(msg) {
		p.sentAt = time.Now()
	}
}

// runSafely turns a panic in the simulator into an error: one bad shard
// must not take the worker, and the other shards it runs, down.
func (w *Worker) runSafely(ctx context.Context, a *cfpb.Assign, t *task) (sum *cfpb.Summary, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("worker: simulator panic: %v\n%s", p, debug.Stack())
		}
	}()
	return w.cfg.Run(ctx, a.Spec, a.Work, func(done int) {
		w.mu.Lock()
		if done > t.images {
			w.cfg.Metrics.images.Add(float64(done - t.images))
			t.images = done
		}
		w.mu.Unlock()
	})
}
