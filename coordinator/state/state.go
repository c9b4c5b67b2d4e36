// Package state is the coordinators' replicated state machine: sweeps, the
// shard table with leases and results, the worker registry and the
// coordinator directory. Apply is deterministic: it reads no clock (the
// leader's time rides inside each command), draws no random numbers and does
// no I/O, so every replica that applies the same log holds the same state.
// The package knows nothing of raft or gRPC; the coordinator adapts it.
package state

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// SnapshotVersion is the snapshot format this package writes: 2, streamed.
// It also reads format 1, one message (see Restore).
const SnapshotVersion = 2

// MaxFailures is how many crashed or errored attempts fail a shard.
const MaxFailures = 3

// MaxLosses is on how many different workers a shard may be lost (its
// worker's connection gone, or its lease expired) before it fails as a
// poison shard: one that kills every worker process that runs it. A
// cluster of fewer workers fails it after MaxTotalLosses losses in all.
const (
	MaxLosses      = 5
	MaxTotalLosses = 2 * MaxLosses
)

// MaxShards bounds one sweep's shard table whatever a coordinator's
// configured limit (about 1 GB of state).
const MaxShards = 10_000_000

// Errors of Apply.
var (
	ErrUnknownSweep = errors.New("state: unknown sweep")
	ErrBadCommand   = errors.New("state: malformed command")
	// ErrSweepActive refuses to delete a sweep that is still running or
	// paused: it must be cancelled (or finish) first.
	ErrSweepActive = errors.New("state: sweep not finished")
	// ErrQuota refuses a submission over its owner's quota.
	ErrQuota = errors.New("state: quota exceeded")
)

// State is the replicated state. Apply and Restore write; everything else
// reads, and is safe to call from any goroutine.
type State struct {
	mu           sync.RWMutex
	sweeps       map[string]*sweepState
	order        []string // sweep ids in submission order
	workers      map[string]*cfpb.WorkerRecord
	coordinators map[string]*cfpb.SetCoordinator
	nextLease    uint64
	applied      uint64            // commands applied, for tests and metrics
	strs         map[string]string // see intern
}

type sweepState struct {
	id        string
	owner     string
	spec      *cfpb.SweepSpec
	layout    *sweep.Layout
	state     cfpb.SweepState
	submitted int64
	finished  int64
	alarms    int64
	shards    []shard
	counts    [6]int64 // by cfpb.ShardState
	images    int64    // images of done shards
	// attempts counts leases granted; duplicates the results for done
	// shards from another lease or worker; recomputed the shards that got
	// at least one. All three follow from the shard table (see Restore).
	attempts, duplicates, recomputed int64

	// Derived (rebuilt on restore): the lowest never-leased shard, and the
	// pending shards that were leased before (retries), in release order.
	fresh int
	retry []int
	// errors are the latest distinct shard errors, for users.
	errors []string
	// losses records, for the few shards that were lost, how often and
	// on which workers (replicated, in the snapshot's shards).
	losses map[int]*loss
	// durations of the done shards, for the expected shard time.
	durations durations
	// copyTrials: later trials of trial-independent points are copies of
	// trial 0 (copies.go); copies is how many shards are, copied how many
	// of those are done, imagesCopied their images (derived).
	copyTrials                   bool
	copies, copied, imagesCopied int64
	// doneScratch holds completeCopies' answer, reused (no garbage per shard).
	doneScratch []int
	// adaptive holds a race's or a precision target's decisions (derived,
	// rebuilt on restore); nil for a full grid.
	adaptive *adaptive
}

// loss is the loss record of one shard.
type loss struct {
	count   int32
	workers []string // distinct, in order of loss
}

// maxErrors is how many distinct recent errors a sweep shows.
const maxErrors = 5

func (sw *sweepState) noteError(k int, msg string) {
	if msg == "" {
		return
	}
	line := fmt.Sprintf("shard %d: %s", k, msg)
	for i, e := range sw.errors {
		if strings.SplitN(e, ": ", 2)[1] == msg {
			sw.errors = append(sw.errors[:i], sw.errors[i+1:]...)
			break
		}
	}
	sw.errors = append(sw.errors, line)
	if len(sw.errors) > maxErrors {
		sw.errors = sw.errors[len(sw.errors)-maxErrors:]
	}
}

type shard struct {
	state    cfpb.ShardState
	attempt  int32
	failures int32
	// completions counts results received: the recorded one and every
	// duplicate from another lease or worker.
	completions int32
	leaseID     uint64
	worker      string
	notBefore   int64
	lastError   string
	result      *record
}

// New returns an empty state.
func New() *State {
	return &State{sweeps: map[string]*sweepState{}, workers: map[string]*cfpb.WorkerRecord{},
		coordinators: map[string]*cfpb.SetCoordinator{}, nextLease: 1, strs: map[string]string{}}
}

// Response is what applying one command produced.
type Response struct {
	// Granted holds the leases an AssignShards command granted, in order.
	Granted []*cfpb.LeaseRef
	// Completed counts results recorded; Duplicates those ignored because
	// the shard was already done with equal numbers (re-sent results of the
	// recorded lease among them); Alarms those whose numbers differed
	// (non-determinism); Ignored those for cancelled or
	// unknown shards; Malformed those refused because the summary does not
	// fit the shard (see sweep.CheckSummary).
	Completed, Duplicates, Alarms, Ignored, Malformed int
	// Released counts leases ended; Failed the shards that failed (copies
	// included); Copied the copies done with their source (copies.go).
	Released, Failed, Copied int
	// ReleasedBy counts the leases ended, by cfpb.ReleaseReason.
	ReleasedBy map[cfpb.ReleaseReason]int
	// Finished holds, for each shard that ended (done or failed for good),
	// the leases it took: the attempts per shard.
	Finished []FinishedShard
	// Deleted lists the sweeps a DeleteSweep or ExpireSweeps removed.
	Deleted []string
	Err     error
}

// FinishedShard is a shard that ended: done, or failed for good.
type FinishedShard struct {
	Attempts int32
	Failed   bool
}

// Apply applies one command.
func (s *State) Apply(c *cfpb.Command) *Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied++
	now := c.GetNowNs()
	r := &Response{}
	switch cmd := c.GetCmd().(type) {
	case *cfpb.Command_Submit:
		r.Err = s.submit(cmd.Submit, now)
	case *cfpb.Command_SetState:
		r.Err = s.setState(cmd.SetState, now)
	case *cfpb.Command_Assign:
		for _, a := range cmd.Assign.GetAssignments() {
			if l := s.assign(a, now); l != nil {
				r.Granted = append(r.Granted, l)
			}
		}
	case *cfpb.Command_Complete:
		// Results first: a failure of a lease whose shard another lease
		// has just completed is then stale and changes nothing.
		for _, res := range cmd.Complete.GetResults() {
			s.complete(res, now, r)
		}
		for _, rel := range cmd.Complete.GetFailures() {
			rel.Reason = cfpb.ReleaseReason_RELEASE_REASON_ERROR
			s.release(rel, now, r)
		}
	case *cfpb.Command_Release:
		for _, rel := range cmd.Release.GetReleases() {
			s.release(rel, now, r)
		}
	case *cfpb.Command_Delete:
		r.Err = s.deleteSweep(cmd.Delete.GetSweepId())
		if r.Err == nil {
			r.Deleted = []string{cmd.Delete.SweepId}
		}
	case *cfpb.Command_Expire:
		if cmd.Expire.GetRetentionNs() < 0 {
			r.Err = fmt.Errorf("%w: expire: negative retention %d ns", ErrBadCommand, cmd.Expire.RetentionNs)
			break
		}
		for _, id := range s.expired(now, cmd.Expire.RetentionNs) {
			_ = s.deleteSweep(id) // finished, known: cannot fail
			r.Deleted = append(r.Deleted, id)
		}
	case *cfpb.Command_RegisterWorker:
		w := cmd.RegisterWorker
		if w.GetWorkerId() == "" {
			r.Err = fmt.Errorf("%w: register_worker: empty worker_id", ErrBadCommand)
			break
		}
		rec, ok := s.workers[w.WorkerId]
		if !ok {
			rec = &cfpb.WorkerRecord{Id: w.WorkerId, RegisteredNs: now}
			s.workers[w.WorkerId] = rec
		}
		rec.Version, rec.Slots = w.Version, w.Slots
	case *cfpb.Command_SetCoordinator:
		sc := cmd.SetCoordinator
		if sc.GetId() == "" {
			r.Err = fmt.Errorf("%w: set_coordinator: empty id", ErrBadCommand)
			break
		}
		if sc.Remove {
			delete(s.coordinators, sc.Id)
		} else {
			s.coordinators[sc.Id] = proto.Clone(sc).(*cfpb.SetCoordinator)
		}
	default:
		r.Err = fmt.Errorf("%w: no command in the entry", ErrBadCommand)
	}
	return r
}

func (s *State) submit(c *cfpb.SubmitSweep, now int64) error {
	if c.GetSweepId() == "" {
		return fmt.Errorf("%w: submit: empty sweep_id", ErrBadCommand)
	}
	if _, ok := s.sweeps[c.SweepId]; ok {
		return nil // a retried submission: the first one stands
	}
	// The leader validated the spec against its own limits; this check
	// keeps a malformed entry from ever reaching the shard table.
	if err := sweep.Validate(c.Spec, sweep.Limits{MaxShards: MaxShards}); err != nil {
		return err
	}
	layout, err := sweep.NewLayout(c.Spec)
	if err != nil {
		return err
	}
	if err := s.checkQuota(c.Owner, int64(layout.Shards()), c.Quota); err != nil {
		return err
	}
	sw := &sweepState{id: c.SweepId, owner: c.Owner, spec: c.Spec, layout: layout, state: cfpb.SweepState_SWEEP_STATE_RUNNING,
		submitted: now, shards: make([]shard, layout.Shards())}
	sw.setCopyTrials(c.CopyDeterministicTrials)
	for i := range sw.shards {
		sw.shards[i].state = cfpb.ShardState_SHARD_STATE_PENDING
	}
	sw.counts[cfpb.ShardState_SHARD_STATE_PENDING] = int64(len(sw.shards))
	sw.startAdaptive()
	s.sweeps[c.SweepId] = sw
	s.order = append(s.order, c.SweepId)
	return nil
}

// CheckQuota reports whether owner may submit a sweep of the given number
// of shards under quota q, with the error a SubmitSweep would get; the
// leader may call it to refuse before proposing.
func (s *State) CheckQuota(owner string, shards int64, q *cfpb.Quota) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkQuota(owner, shards, q)
}

func (s *State) checkQuota(owner string, shards int64, q *cfpb.Quota) error {
	if q.GetMaxSweeps() <= 0 && q.GetMaxShards() <= 0 {
		return nil
	}
	var sweeps, unfinished int64
	for _, sw := range s.sweeps {
		if sw.owner != owner || sw.finishedState() {
			continue
		}
		sweeps++
		unfinished += sw.counts[cfpb.ShardState_SHARD_STATE_PENDING] + sw.counts[cfpb.ShardState_SHARD_STATE_LEASED]
	}
	if q.GetMaxSweeps() > 0 && sweeps >= int64(q.MaxSweeps) {
		return fmt.Errorf("%w: %s has %d sweeps running or paused; the quota allows %d at once (max_sweeps); wait for one to finish or cancel one",
			ErrQuota, ownerName(owner), sweeps, q.MaxSweeps)
	}
	if q.GetMaxShards() > 0 && unfinished+shards > q.MaxShards {
		return fmt.Errorf("%w: %s has %d unfinished shards and this sweep adds %d; the quota allows %d at once (max_shards)",
			ErrQuota, ownerName(owner), unfinished, shards, q.MaxShards)
	}
	return nil
}

func ownerName(owner string) string {
	if owner == "" {
		return "the anonymous owner (no client certificate)"
	}
	return fmt.Sprintf("owner %q", owner)
}

func (sw *sweepState) finishedState() bool {
	return sw.state == cfpb.SweepState_SWEEP_STATE_DONE || sw.state == cfpb.SweepState_SWEEP_STATE_CANCELLED
}

func (s *State) deleteSweep(id string) error {
	sw, ok := s.sweeps[id]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownSweep, id)
	}
	if !sw.finishedState() {
		return fmt.Errorf("%w: sweep %s is %s; cancel it before deleting it", ErrSweepActive, id, stateWord(sw.state))
	}
	delete(s.sweeps, id)
	s.order = slices.DeleteFunc(s.order, func(o string) bool { return o == id })
	return nil
}

func stateWord(st cfpb.SweepState) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "SWEEP_STATE_"))
}

// expired lists the finished sweeps whose finish lies at least retention
// before now, oldest submission first.
func (s *State) expired(now, retention int64) []string {
	var out []string
	for _, id := range s.order {
		if sw := s.sweeps[id]; sw.finishedState() && sw.finished <= now-retention {
			out = append(out, id)
		}
	}
	return out
}

// Expired lists the sweeps that an ExpireSweeps command with this
// retention would delete at nowNs, so that the leader proposes one only
// when there is something to delete.
func (s *State) Expired(nowNs int64, retention time.Duration) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.expired(nowNs, int64(retention))
}

func (s *State) setState(c *cfpb.SetSweepState, now int64) error {
	sw, ok := s.sweeps[c.GetSweepId()]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownSweep, c.GetSweepId())
	}
	if sw.finishedState() {
		return nil // nothing left to change
	}
	switch c.State {
	case cfpb.SweepState_SWEEP_STATE_RUNNING, cfpb.SweepState_SWEEP_STATE_PAUSED:
		sw.state = c.State
	case cfpb.SweepState_SWEEP_STATE_CANCELLED:
		for i := range sw.shards {
			sh := &sw.shards[i]
			if sh.state == cfpb.ShardState_SHARD_STATE_PENDING || sh.state == cfpb.ShardState_SHARD_STATE_LEASED {
				sw.move(sh, cfpb.ShardState_SHARD_STATE_CANCELLED)
			}
		}
		sw.retry = nil
		sw.losses = nil
		sw.fresh = len(sw.shards)
		sw.state = cfpb.SweepState_SWEEP_STATE_CANCELLED
		sw.finished = now
	default:
		return fmt.Errorf("%w: set_state: state %v", ErrBadCommand, c.State)
	}
	return nil
}

func (sw *sweepState) move(sh *shard, to cfpb.ShardState) {
	sw.counts[sh.state]--
	sw.counts[to]++
	sh.state = to
}

// finishIfDone marks the sweep done once no shard is pending or leased.
func (sw *sweepState) finishIfDone(now int64) {
	if sw.state != cfpb.SweepState_SWEEP_STATE_RUNNING && sw.state != cfpb.SweepState_SWEEP_STATE_PAUSED {
		return
	}
	if sw.counts[cfpb.ShardState_SHARD_STATE_PENDING] == 0 && sw.counts[cfpb.ShardState_SHARD_STATE_LEASED] == 0 {
		sw.state = cfpb.SweepState_SWEEP_STATE_DONE
		sw.finished = now
	}
}

func (s *State) shardOf(sweepID string, k int32) (*sweepState, *shard) {
	sw, ok := s.sweeps[sweepID]
	if !ok || k < 0 || int(k) >= len(sw.shards) {
		return nil, nil
	}
	return sw, &sw.shards[k]
}

func (s *State) assign(a *cfpb.Assignment, now int64) *cfpb.LeaseRef {
	sw, sh := s.shardOf(a.GetSweepId(), a.GetShard())
	if sh == nil || sw.state != cfpb.SweepState_SWEEP_STATE_RUNNING ||
		sh.state != cfpb.ShardState_SHARD_STATE_PENDING || sh.notBefore > now || a.Worker == "" || sw.isCopy(int(a.Shard)) {
		return nil
	}
	k := int(a.Shard)
	if sh.attempt > 0 {
		if i := slices.Index(sw.retry, k); i >= 0 {
			sw.retry = slices.Delete(sw.retry, i, i+1)
		}
	}
	sw.move(sh, cfpb.ShardState_SHARD_STATE_LEASED)
	sh.attempt++
	sw.attempts++
	sh.leaseID = s.nextLease
	s.nextLease++
	sh.worker = a.Worker
	sw.advanceFresh()
	return &cfpb.LeaseRef{SweepId: sw.id, Shard: a.Shard, LeaseId: sh.leaseID, Attempt: sh.attempt}
}

func (sw *sweepState) advanceFresh() {
	for sw.fresh < len(sw.shards) {
		sh := &sw.shards[sw.fresh]
		if sh.state == cfpb.ShardState_SHARD_STATE_PENDING && sh.attempt == 0 && !sw.isCopy(sw.fresh) {
			return
		}
		sw.fresh++
	}
}

func (s *State) complete(res *cfpb.ShardResult, now int64, r *Response) {
	sw, sh := s.shardOf(res.GetSweepId(), res.GetShard())
	if sh == nil || res.Summary == nil || sw.isCopy(int(res.Shard)) {
		r.Ignored++
		return
	}
	// A summary that does not fit its shard would break every later merge
	// of the sweep on every replica; the lease runs out and the shard is
	// computed again.
	if err := sweep.CheckSummary(res.Summary, int(sw.layout.Shard("", int(res.Shard)).Count)); err != nil {
		r.Malformed++
		sw.noteError(int(res.Shard), fmt.Sprintf("malformed result from worker %s: %v", res.Worker, err))
		return
	}
	switch sh.state {
	case cfpb.ShardState_SHARD_STATE_DONE:
		sw.noteDuplicate(sh, res)
		if sh.result.sameSummary(res.Summary) {
			r.Duplicates++
		} else {
			r.Alarms++
			sw.alarms++
		}
		return
	case cfpb.ShardState_SHARD_STATE_CANCELLED:
		r.Ignored++
		return
	case cfpb.ShardState_SHARD_STATE_PENDING:
		if sh.attempt > 0 {
			if i := slices.Index(sw.retry, int(res.Shard)); i >= 0 {
				sw.retry = slices.Delete(sw.retry, i, i+1)
			}
		}
	}
	// First writer wins: any result for a shard not yet done is recorded,
	// even from an expired lease, because the simulator is deterministic.
	sw.move(sh, cfpb.ShardState_SHARD_STATE_DONE)
	sh.result = newRecord(res, s.intern)
	sh.completions = 1
	delete(sw.losses, int(res.Shard))
	sw.durations.add(res.DurationNs)
	sh.worker = sh.result.worker
	sw.images += res.Summary.Images
	if w, ok := s.workers[res.Worker]; ok {
		w.ShardsDone++
	}
	sw.advanceFresh()
	r.Completed++
	r.Finished = append(r.Finished, FinishedShard{Attempts: sh.attempt})
	sw.noteDone(sw.completeCopies(int(res.Shard), r)...)
	sw.finishIfDone(now)
}

// noteDuplicate counts a result for a done shard unless it is the recorded
// lease's own result sent again (a worker re-sends what was not
// acknowledged): any other means the shard was computed twice, which the
// tests and the end-to-end check watch for even when the numbers agree.
func (sw *sweepState) noteDuplicate(sh *shard, res *cfpb.ShardResult) {
	if res.LeaseId == sh.result.leaseID && res.Worker == sh.result.worker {
		return
	}
	if sh.completions == 1 {
		sw.recomputed++
	}
	sh.completions++
	sw.duplicates++
}

func (s *State) release(rel *cfpb.Release, now int64, r *Response) {
	sw, sh := s.shardOf(rel.GetSweepId(), rel.GetShard())
	if sh == nil || sh.state != cfpb.ShardState_SHARD_STATE_LEASED || sh.leaseID != rel.LeaseId {
		return // stale: the lease already ended
	}
	r.Released++
	if r.ReleasedBy == nil {
		r.ReleasedBy = map[cfpb.ReleaseReason]int{}
	}
	r.ReleasedBy[rel.Reason]++
	k := int(rel.Shard)
	switch rel.Reason {
	case cfpb.ReleaseReason_RELEASE_REASON_EXPIRED, cfpb.ReleaseReason_RELEASE_REASON_ERROR, cfpb.ReleaseReason_RELEASE_REASON_STALLED:
		sh.failures++
		switch {
		case rel.Error != "":
			sh.lastError = rel.Error
		case rel.Reason == cfpb.ReleaseReason_RELEASE_REASON_EXPIRED:
			sh.lastError = "lease expired without a heartbeat"
		default:
			sh.lastError = fmt.Sprintf("worker %s reported an error without a message", sh.worker)
		}
		sw.noteError(k, sh.lastError)
	case cfpb.ReleaseReason_RELEASE_REASON_LOST:
		sh.lastError = rel.Error
		if sh.lastError == "" {
			sh.lastError = fmt.Sprintf("worker %s was lost while running the shard", sh.worker)
		}
	}
	// A lease of a point an adaptive sweep has decided ends the shard: it
	// is not needed, whether it would have failed or been retried.
	if sw.notNeeded(k) {
		sw.move(sh, cfpb.ShardState_SHARD_STATE_CANCELLED)
		delete(sw.losses, k)
		sw.finishIfDone(now)
		return
	}
	if sh.failures >= MaxFailures || sw.lose(k, sh, rel.Reason) {
		sw.move(sh, cfpb.ShardState_SHARD_STATE_FAILED)
		delete(sw.losses, k)
		r.Failed++
		r.Finished = append(r.Finished, FinishedShard{Attempts: sh.attempt, Failed: true})
		sw.noteFailed(k)
		sw.failCopies(k, r)
		sw.finishIfDone(now)
		return
	}
	sw.move(sh, cfpb.ShardState_SHARD_STATE_PENDING)
	sh.notBefore = rel.BackoffUntilNs
	sw.retry = append(sw.retry, k)
}

// lose records the loss of shard k's lease, when its reason is one, and
// reports whether the shard is now a poison shard; it then says so in the
// shard's last error.
func (sw *sweepState) lose(k int, sh *shard, reason cfpb.ReleaseReason) bool {
	if reason != cfpb.ReleaseReason_RELEASE_REASON_LOST && reason != cfpb.ReleaseReason_RELEASE_REASON_EXPIRED {
		return false
	}
	if sw.losses == nil {
		sw.losses = map[int]*loss{}
	}
	l := sw.losses[k]
	if l == nil {
		l = &loss{}
		sw.losses[k] = l
	}
	l.count++
	if !slices.Contains(l.workers, sh.worker) {
		l.workers = append(l.workers, sh.worker)
	}
	if len(l.workers) < MaxLosses && l.count < MaxTotalLosses {
		return false
	}
	sh.lastError = fmt.Sprintf("poison shard: lost %d times on %d different workers (%s); last error: %s",
		l.count, len(l.workers), strings.Join(l.workers, ", "), sh.lastError)
	sw.noteError(k, sh.lastError)
	return true
}

// Applied is the number of commands applied so far.
func (s *State) Applied() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// sortedSweeps lists sweeps newest first.
func (s *State) sortedSweeps() []*sweepState {
	out := make([]*sweepState, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		out = append(out, s.sweeps[s.order[i]])
	}
	return out
}

// SweepIDs lists the sweep ids, newest first.
func (s *State) SweepIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	for _, sw := range s.sortedSweeps() {
		ids = append(ids, sw.id)
	}
	return ids
}

// Sweep describes one sweep (without the leader's live figures).
func (s *State) Sweep(id string) (*cfpb.Sweep, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, ok := s.sweeps[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSweep, id)
	}
	return sw.describe(), nil
}

func (sw *sweepState) describe() *cfpb.Sweep {
	c := sw.counts
	d := &cfpb.Sweep{Id: sw.id, Owner: sw.owner, Spec: sw.spec, State: sw.state, SubmittedNs: sw.submitted, FinishedNs: sw.finished,
		Progress: &cfpb.Progress{Total: int64(len(sw.shards)), Pending: c[cfpb.ShardState_SHARD_STATE_PENDING],
			Leased: c[cfpb.ShardState_SHARD_STATE_LEASED], Done: c[cfpb.ShardState_SHARD_STATE_DONE],
			Failed: c[cfpb.ShardState_SHARD_STATE_FAILED], Cancelled: c[cfpb.ShardState_SHARD_STATE_CANCELLED],
			ImagesDone: sw.images, Copies: sw.copies, Copied: sw.copied, ImagesCopied: sw.imagesCopied},
		Points: int32(len(sw.layout.Points)), Shards: int32(len(sw.shards)), Alarms: sw.alarms, EtaSeconds: -1,
		Errors: append([]string(nil), sw.errors...), Attempts: sw.attempts, DuplicateResults: sw.duplicates,
		RecomputedShards: sw.recomputed}
	if sw.adaptive != nil {
		d.Adaptive = sw.adaptive.progress(sw)
	}
	return d
}

// Sweeps describes every sweep, newest first.
func (s *State) Sweeps() []*cfpb.Sweep {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*cfpb.Sweep
	for _, sw := range s.sortedSweeps() {
		out = append(out, sw.describe())
	}
	return out
}

// Results aggregates a sweep's done shards per grid point.
func (s *State) Results(id string) ([]*cfpb.PointResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, ok := s.sweeps[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSweep, id)
	}
	// Aggregate merges each summary before it asks for the next, so one
	// scratch message serves a million shards without garbage.
	scratch := &cfpb.Summary{}
	results := sweep.Aggregate(sw.layout,
		func(k int) cfpb.ShardState { return sw.shards[k].state },
		func(k int) *cfpb.Summary {
			if sw.shards[k].result == nil {
				return nil
			}
			sw.shards[k].result.summaryInto(scratch)
			return scratch
		})
	sw.countCopies(results)
	if sw.adaptive != nil {
		for i := range results {
			results[i].Decision = sw.adaptive.decision(i)
		}
	}
	return results, nil
}

// Shard returns the replicated state of one shard.
func (s *State) Shard(sweepID string, k int32) (*cfpb.Shard, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, sh := s.shardOf(sweepID, k)
	if sh == nil {
		return nil, fmt.Errorf("%w %q shard %d", ErrUnknownSweep, sweepID, k)
	}
	p := shardProto(sw.id, int(k), sh, sw.losses[int(k)])
	markCopy(p, sw.layout, sw.copyTrials, int(k))
	return p, nil
}

func shardProto(sweepID string, k int, sh *shard, l *loss) *cfpb.Shard {
	p := &cfpb.Shard{}
	fillShard(p, sweepID, k, sh, l)
	return p
}

// fillShard sets every field of p from shard k, reusing p's result
// message when it has one.
func fillShard(p *cfpb.Shard, sweepID string, k int, sh *shard, l *loss) {
	res := p.Result
	*p = cfpb.Shard{Index: int32(k), State: sh.state, Attempt: sh.attempt, Failures: sh.failures, LeaseId: sh.leaseID,
		Worker: sh.worker, NotBeforeNs: sh.notBefore, LastError: sh.lastError, Completions: sh.completions}
	if l != nil {
		p.Losses, p.LostOn = l.count, slices.Clone(l.workers)
	}
	if sh.result != nil {
		if res == nil {
			res = &cfpb.ShardResult{Summary: &cfpb.Summary{}}
		}
		sh.result.fill(res, sweepID, k)
		p.Result = res
	}
}

// Work is what a worker needs for a lease: the shard and the sweep's spec.
func (s *State) Work(sweepID string, k int32) (*cfpb.ShardWork, *cfpb.SweepSpec, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, sh := s.shardOf(sweepID, k)
	if sh == nil {
		return nil, nil, fmt.Errorf("%w %q shard %d", ErrUnknownSweep, sweepID, k)
	}
	return sw.layout.Shard(sweepID, int(k)), sw.spec, nil
}

// Lease is one open lease.
type Lease struct {
	Ref    *cfpb.LeaseRef
	Worker string
}

// Leases lists every open lease, by sweep then shard.
func (s *State) Leases() []Lease {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Lease
	for _, id := range s.order {
		sw := s.sweeps[id]
		if sw.counts[cfpb.ShardState_SHARD_STATE_LEASED] == 0 {
			continue
		}
		for k := range sw.shards {
			if sh := &sw.shards[k]; sh.state == cfpb.ShardState_SHARD_STATE_LEASED {
				out = append(out, Lease{Ref: &cfpb.LeaseRef{SweepId: id, Shard: int32(k), LeaseId: sh.leaseID, Attempt: sh.attempt}, Worker: sh.worker})
			}
		}
	}
	return out
}

// HoldsLease reports whether worker holds exactly this lease.
func (s *State) HoldsLease(worker string, l *cfpb.LeaseRef) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, sh := s.shardOf(l.GetSweepId(), l.GetShard())
	return sh != nil && sh.state == cfpb.ShardState_SHARD_STATE_LEASED && sh.leaseID == l.LeaseId && sh.worker == worker
}

// Workers lists the registered workers by id.
func (s *State) Workers() []*cfpb.WorkerRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*cfpb.WorkerRecord, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, proto.Clone(w).(*cfpb.WorkerRecord))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// Coordinators lists the known coordinators by id.
func (s *State) Coordinators() []*cfpb.SetCoordinator {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*cfpb.SetCoordinator, 0, len(s.coordinators))
	for _, c := range s.coordinators {
		out = append(out, proto.Clone(c).(*cfpb.SetCoordinator))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// ShardBrief is what a dashboard shows of one shard.
type ShardBrief struct {
	State             cfpb.ShardState
	Attempt, Failures int32
	Worker, LastError string
	Copy              bool // a copy of trial 0, never computed (copies.go)
}

// EachShard calls f with every shard k of a sweep's n, in shard order,
// under the state's read lock: f must be quick and must not call back into
// s. It copies nothing, so a dashboard can summarise a million shards
// without garbage.
func (s *State) EachShard(sweepID string, f func(k, n int, b ShardBrief)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sw, ok := s.sweeps[sweepID]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownSweep, sweepID)
	}
	for k := range sw.shards {
		sh := &sw.shards[k]
		f(k, len(sw.shards), ShardBrief{State: sh.state, Attempt: sh.attempt, Failures: sh.failures, Worker: sh.worker, LastError: sh.lastError,
			Copy: sw.isCopy(k)})
	}
	return nil
}
