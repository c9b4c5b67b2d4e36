package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// leaderRole is what only the leader does, in memory: lease deadlines,
// worker sessions and their credits, the scheduler, the result batcher and
// the lease reaper. It lives from election to the loss of leadership.
type leaderRole struct {
	n      *Node
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session // by worker id, connected ones
	leases   map[leaseKey]*lease
	rates    map[string]*rate // per sweep: recent completions, for ETA

	wake    chan struct{}    // scheduler
	inbox   chan workerEvent // results and failures, to the batcher
	started time.Time

	// failProposal, set only by tests, fails a proposal the way a lost
	// leadership or a timed-out apply does.
	failProposal func(*cfpb.Command) error
}

type leaseKey struct {
	sweep string
	shard int32
}

type lease struct {
	ref      *cfpb.LeaseRef
	worker   string
	deadline time.Time
	sess     *session // nil or closed: the worker is not connected
	// images is the images-done count last heartbeated and moved when it
	// last changed (or the lease was granted or re-adopted): the reaper
	// revokes a lease whose count stands still too long (state.Stalled).
	images int32
	moved  time.Time
}

// session is one worker's open Work stream.
type session struct {
	worker   string
	slots    int32
	credits  int
	draining bool
	out      chan *cfpb.CoordinatorMessage
	closed   chan struct{}
	once     sync.Once
}

func (s *session) close() { s.once.Do(func() { close(s.closed) }) }

func (s *session) isOpen() bool {
	select {
	case <-s.closed:
		return false
	default:
		return true
	}
}

// send queues a message; a session that cannot keep up is closed (the
// worker reconnects and re-sends what was not acknowledged).
func (s *session) send(m *cfpb.CoordinatorMessage) {
	select {
	case s.out <- m:
	case <-s.closed:
	default:
		s.close()
	}
}

// workerEvent is a result or a failure from a worker's stream.
type workerEvent struct {
	sess    *session
	result  *cfpb.ShardResult
	failure *cfpb.ShardFailure
	stale   bool // a result refused: not from the shard's last lease
}

// lease names the lease the event reports on, and whether it is a result.
func (ev workerEvent) lease() (*cfpb.LeaseRef, bool) {
	if r := ev.result; r != nil {
		return &cfpb.LeaseRef{SweepId: r.SweepId, Shard: r.Shard, LeaseId: r.LeaseId, Attempt: r.Attempt}, true
	}
	return ev.failure.Lease, false
}

// newLeaderRole builds the whole leader role, leases included, before
// anyone can see it: Node.setLeader publishes it only once it is complete,
// because a worker may open a stream the moment it is published.
func newLeaderRole(n *Node) *leaderRole {
	ctx, cancel := context.WithCancel(context.Background())
	lr := &leaderRole{n: n, ctx: ctx, cancel: cancel, sessions: map[string]*session{}, leases: map[leaseKey]*lease{},
		rates: map[string]*rate{}, wake: make(chan struct{}, 1), inbox: make(chan workerEvent, 65536), started: time.Now()}
	// Leases granted by earlier leaders get the TTL plus a grace period, so
	// that their workers can reconnect and re-adopt them instead of the
	// election re-running their work.
	now := time.Now()
	deadline := now.Add(n.cfg.LeaseTTL + n.cfg.Grace)
	for _, l := range n.st.Leases() {
		lr.leases[leaseKey{l.Ref.SweepId, l.Ref.Shard}] = &lease{ref: l.Ref, worker: l.Worker, deadline: deadline, moved: now}
	}
	return lr
}

// start runs the leader's goroutines; shutdown waits for them.
func (lr *leaderRole) start() {
	lr.wg.Add(3)
	go lr.registerSelf()
	go lr.schedule()
	go lr.batch()
	lr.wg.Add(1)
	go lr.reap()
	if lr.n.cfg.Retention > 0 {
		lr.wg.Add(1)
		go lr.expire()
	}
}

// expire deletes the sweeps finished longer than the retention period ago,
// checking a few times per period (at most once a minute, at least ten
// times a second): a raft entry only when there is something to delete.
func (lr *leaderRole) expire() {
	defer lr.wg.Done()
	retention := lr.n.cfg.Retention
	tick := time.NewTicker(min(max(retention/4, 100*time.Millisecond), time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-lr.ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if len(lr.n.st.Expired(now.UnixNano(), retention)) == 0 {
			continue
		}
		r, err := lr.n.Apply(&cfpb.Command{NowNs: now.UnixNano(), Cmd: &cfpb.Command_Expire{Expire: &cfpb.ExpireSweeps{RetentionNs: int64(retention)}}})
		if err != nil {
			lr.n.log.Warn("expire finished sweeps", "err", err)
			continue
		}
		lr.forget(r.Deleted)
		lr.n.log.Info("finished sweeps expired", "sweeps", r.Deleted, "retention", retention)
	}
}

func (lr *leaderRole) shutdown() {
	lr.cancel()
	lr.mu.Lock()
	for _, s := range lr.sessions {
		s.close()
	}
	lr.mu.Unlock()
	lr.wg.Wait()
}

// registerSelf records this node's and the initial peers' API addresses in
// the replicated directory, so that followers can point clients here.
func (lr *leaderRole) registerSelf() {
	defer lr.wg.Done()
	known := map[string]string{}
	for _, c := range lr.n.st.Coordinators() {
		known[c.Id] = c.GrpcAddress
	}
	want := map[string]*cfpb.SetCoordinator{}
	for _, p := range lr.n.cfg.Peers {
		want[p.ID] = &cfpb.SetCoordinator{Id: p.ID, RaftAddress: p.Raft, GrpcAddress: p.GRPC}
	}
	want[lr.n.cfg.ID] = &cfpb.SetCoordinator{Id: lr.n.cfg.ID, RaftAddress: lr.n.cfg.RaftAdvertise, GrpcAddress: lr.n.cfg.GRPCAdvertise}
	for id, sc := range want {
		if _, ok := known[id]; ok && id != lr.n.cfg.ID {
			continue
		}
		if known[id] == sc.GrpcAddress {
			continue
		}
		if _, err := lr.n.Apply(&cfpb.Command{Cmd: &cfpb.Command_SetCoordinator{SetCoordinator: sc}}); err != nil {
			lr.n.log.Warn("record coordinator address", "id", id, "err", err)
			return
		}
	}
}

func (lr *leaderRole) poke() {
	select {
	case lr.wake <- struct{}{}:
	default:
	}
}

// schedule leases pending shards to free worker slots.
func (lr *leaderRole) schedule() {
	defer lr.wg.Done()
	tick := time.NewTicker(200 * time.Millisecond) // backoffs end without an event
	defer tick.Stop()
	for {
		select {
		case <-lr.ctx.Done():
			return
		case <-lr.wake:
		case <-tick.C:
		}
		for lr.ctx.Err() == nil && lr.scheduleOnce() {
		}
	}
}

// scheduleOnce runs one round; it reports whether it granted anything.
func (lr *leaderRole) scheduleOnce() bool {
	lr.mu.Lock()
	var slots []string
	for id, s := range lr.sessions {
		if s.draining || !s.isOpen() {
			continue
		}
		for i := 0; i < s.credits; i++ {
			slots = append(slots, id)
		}
	}
	lr.mu.Unlock()
	if len(slots) == 0 {
		return false
	}
	now := time.Now()
	picks := lr.n.st.Pick(now.UnixNano(), slots)
	if len(picks) == 0 {
		return false
	}
	r, err := lr.n.Apply(assignCommand(now, picks))
	if err != nil {
		lr.n.log.Warn("assign", "err", err)
		return false
	}
	worker := map[leaseKey]string{}
	for _, p := range picks {
		worker[leaseKey{p.SweepId, p.Shard}] = p.Worker
	}
	granted := time.Now()
	deadline := granted.Add(lr.n.cfg.LeaseTTL)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, g := range r.Granted {
		k := leaseKey{g.SweepId, g.Shard}
		w := worker[k]
		s := lr.sessions[w]
		lr.leases[k] = &lease{ref: g, worker: w, deadline: deadline, sess: s, moved: granted}
		if g.Attempt > 1 {
			lr.n.Metrics.redispatches.Inc()
		}
		if s == nil {
			continue // gone since the pick: the lease ends as lost
		}
		s.credits--
		work, spec, err := lr.n.st.Work(g.SweepId, g.Shard)
		if err != nil {
			continue
		}
		s.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Assign{Assign: &cfpb.Assign{Lease: g, Work: work, Spec: spec}}})
	}
	return len(r.Granted) > 0
}

// open registers a worker's stream and re-adopts the leases it still holds.
func (lr *leaderRole) open(h *cfpb.Hello) (*session, []*cfpb.LeaseRef, error) {
	if lr.ctx.Err() != nil {
		return nil, nil, ErrNotLeader
	}
	s := &session{worker: h.WorkerId, slots: h.Slots, draining: h.Draining,
		out: make(chan *cfpb.CoordinatorMessage, 16384), closed: make(chan struct{})}
	var dropped []*cfpb.LeaseRef
	lr.mu.Lock()
	if old := lr.sessions[h.WorkerId]; old != nil {
		old.close() // a reconnect replaces the stale stream
	}
	lr.sessions[h.WorkerId] = s
	now := time.Now()
	deadline := now.Add(lr.n.cfg.LeaseTTL)
	held := map[leaseKey]bool{}
	for _, ref := range h.Held {
		k := leaseKey{ref.GetSweepId(), ref.GetShard()}
		if l, ok := lr.leases[k]; ok && l.ref.LeaseId == ref.LeaseId && l.worker == h.WorkerId {
			l.sess, l.deadline, l.moved = s, deadline, now
			held[k] = true
			continue
		}
		dropped = append(dropped, ref)
	}
	// Leases this worker held but no longer reports are gone with its
	// previous process: let them end now, as lost.
	for k, l := range lr.leases {
		if l.worker == h.WorkerId && !held[k] {
			l.deadline = time.Time{}
			l.sess = nil
		}
	}
	lr.n.Metrics.workersConnected.Set(float64(len(lr.sessions)))
	lr.mu.Unlock()
	return s, dropped, nil
}

func (lr *leaderRole) closeSession(s *session) {
	s.close()
	lr.mu.Lock()
	if lr.sessions[s.worker] == s {
		delete(lr.sessions, s.worker)
	}
	lr.n.Metrics.workersConnected.Set(float64(len(lr.sessions)))
	lr.mu.Unlock()
}

func (lr *leaderRole) credit(s *session, n int32) {
	if n <= 0 {
		return // a credit only ever adds slots
	}
	lr.mu.Lock()
	s.credits += int(n)
	if s.credits > int(max(s.slots, 1))*4 {
		s.credits = int(max(s.slots, 1)) * 4 // a confused worker cannot hoard
	}
	lr.mu.Unlock()
	lr.poke()
}

// heartbeat renews the worker's leases it reports on, and notes which of
// them moved: a heartbeat proves the worker alive, not its shard.
func (lr *leaderRole) heartbeat(s *session, hb *cfpb.Heartbeat) {
	now := time.Now()
	deadline := now.Add(lr.n.cfg.LeaseTTL)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, p := range hb.Progress {
		k := leaseKey{p.Lease.GetSweepId(), p.Lease.GetShard()}
		if l, ok := lr.leases[k]; ok && l.ref.LeaseId == p.Lease.GetLeaseId() && l.worker == s.worker {
			l.deadline, l.sess = deadline, s
			if p.ImagesDone != l.images {
				l.images, l.moved = p.ImagesDone, now
			}
		}
	}
}

func (lr *leaderRole) drain(s *session, on bool) {
	lr.mu.Lock()
	s.draining = on
	lr.mu.Unlock()
}

// submit queues a result or failure for the batcher.
func (lr *leaderRole) submit(ev workerEvent) error {
	select {
	case lr.inbox <- ev:
		return nil
	case <-lr.ctx.Done():
		return ErrNotLeader
	}
}

// workerInfo describes the connected workers for ClusterStatus.
func (lr *leaderRole) workerInfo() map[string]*cfpb.WorkerInfo {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	out := map[string]*cfpb.WorkerInfo{}
	for id, s := range lr.sessions {
		out[id] = &cfpb.WorkerInfo{Id: id, Slots: s.slots, Connected: true, Draining: s.draining}
	}
	for _, l := range lr.leases {
		if wi, ok := out[l.worker]; ok {
			wi.Leases++
		}
	}
	return out
}

// drainWorker pushes Drain to a connected worker.
func (lr *leaderRole) drainWorker(id string) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	s := lr.sessions[id]
	if s == nil {
		return fmt.Errorf("coordinator: worker %q is not connected", id)
	}
	s.draining = true
	s.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Drain{Drain: &cfpb.Drain{}}})
	return nil
}

// cancelSweep tells the workers holding a cancelled sweep's leases to stop.
func (lr *leaderRole) cancelSweep(id string) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for k, l := range lr.leases {
		if k.sweep == id {
			if l.sess != nil {
				l.sess.send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Cancel{Cancel: l.ref}})
			}
			delete(lr.leases, k)
		}
	}
}

// forget drops what the leader keeps in memory about deleted sweeps.
func (lr *leaderRole) forget(ids []string) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, id := range ids {
		delete(lr.rates, id)
		for k := range lr.leases {
			if k.sweep == id {
				delete(lr.leases, k)
			}
		}
	}
}

func (lr *leaderRole) rateOf(sweep string) *rate {
	r := lr.rates[sweep]
	if r == nil {
		r = &rate{}
		lr.rates[sweep] = r
	}
	return r
}

// liveFigures is a sweep's completion rate over the last minute and ETA.
func (lr *leaderRole) liveFigures(sw *cfpb.Sweep) (perSecond, eta float64) {
	lr.mu.Lock()
	r := lr.rates[sw.Id]
	lr.mu.Unlock()
	if r == nil {
		return 0, -1
	}
	perSecond = r.perSecond(time.Now())
	left := sw.Progress.Pending + sw.Progress.Leased
	if perSecond <= 0 {
		return 0, -1
	}
	return perSecond, float64(left) / perSecond
}

// rate counts completions in one-second buckets over the last minute.
type rate struct {
	mu      sync.Mutex
	buckets [60]int64
	stamps  [60]int64 // the second each bucket counts
	first   time.Time
}

func (r *rate) add(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		r.first = t
	}
	sec := t.Unix()
	i := sec % 60
	if r.stamps[i] != sec {
		r.stamps[i], r.buckets[i] = sec, 0
	}
	r.buckets[i]++
}

func (r *rate) perSecond(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		return 0
	}
	var n int64
	sec := now.Unix()
	for i := range r.buckets {
		if sec-r.stamps[i] < 60 {
			n += r.buckets[i]
		}
	}
	span := min(now.Sub(r.first).Seconds(), 60)
	return float64(n) / max(span, 1)
}
