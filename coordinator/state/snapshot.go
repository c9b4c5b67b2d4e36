package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// snapshotMagic opens a streamed snapshot (format 2); a format 1 snapshot
// is one Snapshot message, whose first byte is a field tag, never 'C'.
var snapshotMagic = []byte{'C', 'F', 'S', 'N', 'A', 'P', 0, 2}

// chunkShards is how many shards one ShardChunk holds: a few hundred
// kilobytes with per-block results, so that neither side of a snapshot
// ever holds more than that encoded.
const chunkShards = 1024

// maxRecord bounds one length-delimited record of a snapshot: a sweep
// record is a spec, a chunk is chunkShards shards.
const maxRecord = 64 << 20

// ErrSnapshot reports a snapshot that cannot be restored.
var ErrSnapshot = errors.New("state: snapshot")

// Capture is a consistent copy of the state for one snapshot. Taking it
// copies the shard tables (a few tens of bytes per shard; results are
// shared, as Apply never changes a recorded one) while Apply waits;
// writing it streams and runs while Apply goes on, as raft persists
// snapshots concurrently with applying the log.
type Capture struct {
	header *cfpb.SnapshotHeader
	sweeps []sweepCapture
}

type sweepCapture struct {
	rec    *cfpb.SweepRecord
	layout *sweep.Layout // immutable, shared
	shards []shard
	losses map[int]*loss
}

// Capture copies the state for a snapshot.
func (s *State) Capture() *Capture {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := &cfpb.SnapshotHeader{Version: SnapshotVersion, NextLeaseId: s.nextLease, Sweeps: int32(len(s.order))}
	for _, w := range s.workers {
		h.Workers = append(h.Workers, proto.Clone(w).(*cfpb.WorkerRecord))
	}
	sort.Slice(h.Workers, func(i, j int) bool { return h.Workers[i].Id < h.Workers[j].Id })
	for _, c := range s.coordinators {
		h.Coordinators = append(h.Coordinators, proto.Clone(c).(*cfpb.SetCoordinator))
	}
	sort.Slice(h.Coordinators, func(i, j int) bool { return h.Coordinators[i].Id < h.Coordinators[j].Id })
	c := &Capture{header: h}
	for _, id := range s.order {
		sw := s.sweeps[id]
		losses := make(map[int]*loss, len(sw.losses))
		for k, l := range sw.losses {
			losses[k] = &loss{count: l.count, workers: slices.Clone(l.workers)}
		}
		c.sweeps = append(c.sweeps, sweepCapture{rec: sw.record(), layout: sw.layout, shards: slices.Clone(sw.shards), losses: losses})
	}
	return c
}

// record is the sweep's snapshot record without its shards.
func (sw *sweepState) record() *cfpb.SweepRecord {
	return &cfpb.SweepRecord{Id: sw.id, Owner: sw.owner, Spec: sw.spec, State: sw.state, SubmittedNs: sw.submitted,
		FinishedNs: sw.finished, Alarms: sw.alarms, ShardCount: int32(len(sw.shards)), CopyDeterministicTrials: sw.copyTrials}
}

// WriteTo streams the capture in snapshot format 2: the header, then each
// sweep's record and its shards in chunks.
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(snapshotMagic)
	total := int64(n)
	if err != nil {
		return total, err
	}
	// One buffer serves every record: a snapshot allocates no more than
	// its largest record, whatever the state's size.
	var buf []byte
	put := func(m proto.Message) error {
		var err error
		buf = protowire.AppendVarint(buf[:0], uint64(proto.Size(m)))
		if buf, err = (proto.MarshalOptions{Deterministic: true, UseCachedSize: true}).MarshalAppend(buf, m); err != nil {
			return err
		}
		n, err := w.Write(buf)
		total += int64(n)
		return err
	}
	if err := put(c.header); err != nil {
		return total, err
	}
	// One chunk's messages are reused for every chunk: writing a million
	// shards then makes no garbage beyond what marshalling does.
	chunk := &cfpb.ShardChunk{}
	var pool []*cfpb.Shard
	for _, sc := range c.sweeps {
		if err := put(sc.rec); err != nil {
			return total, err
		}
		for lo := 0; lo < len(sc.shards); lo += chunkShards {
			chunk.Shards = chunk.Shards[:0]
			for k := lo; k < min(lo+chunkShards, len(sc.shards)); k++ {
				i := k - lo
				if i == len(pool) {
					pool = append(pool, &cfpb.Shard{})
				}
				fillShard(pool[i], sc.rec.Id, k, &sc.shards[k], sc.losses[k])
				markCopy(pool[i], sc.layout, sc.rec.CopyDeterministicTrials, k)
				chunk.Shards = append(chunk.Shards, pool[i])
			}
			if err := put(chunk); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// Restore replaces the state with a snapshot's, read as a stream (format
// 2) or, for snapshots written before streaming, as one message (format
// 1). The state is unchanged when the snapshot cannot be used.
func (s *State) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(len(snapshotMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: read: %w", ErrSnapshot, err)
	}
	var n *State
	if bytes.Equal(head, snapshotMagic) {
		_, _ = br.Discard(len(snapshotMagic))
		n, err = readStream(br)
	} else {
		n, err = readLegacy(br)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps, s.order, s.workers, s.coordinators, s.nextLease = n.sweeps, n.order, n.workers, n.coordinators, n.nextLease
	return nil
}

// readStream reads a format 2 snapshot after its magic.
func readStream(br *bufio.Reader) (*State, error) {
	in := protodelim.UnmarshalOptions{MaxSize: maxRecord}
	var h cfpb.SnapshotHeader
	if err := in.UnmarshalFrom(br, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrSnapshot, err)
	}
	if h.Version != SnapshotVersion {
		return nil, fmt.Errorf("%w: streamed format version %d, this coordinator streams %d", ErrSnapshot, h.Version, SnapshotVersion)
	}
	n := restoring(h.NextLeaseId, h.Workers, h.Coordinators)
	for i := 0; i < int(h.Sweeps); i++ {
		var rec cfpb.SweepRecord
		if err := in.UnmarshalFrom(br, &rec); err != nil {
			return nil, fmt.Errorf("%w: sweep %d of %d: %w", ErrSnapshot, i+1, h.Sweeps, err)
		}
		b, err := n.begin(&rec, int(rec.ShardCount))
		if err != nil {
			return nil, err
		}
		for b.k < len(b.sw.shards) {
			var chunk cfpb.ShardChunk
			if err := in.UnmarshalFrom(br, &chunk); err != nil {
				return nil, fmt.Errorf("%w: sweep %s after shard %d: %w", ErrSnapshot, rec.Id, b.k, err)
			}
			if len(chunk.Shards) == 0 || b.k+len(chunk.Shards) > len(b.sw.shards) {
				return nil, fmt.Errorf("%w: sweep %s: a chunk of %d shards after shard %d of %d", ErrSnapshot, rec.Id,
					len(chunk.Shards), b.k, len(b.sw.shards))
			}
			for _, p := range chunk.Shards {
				if err := b.add(p); err != nil {
					return nil, err
				}
			}
		}
		n.finish(b)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: bytes after the last of %d sweeps", ErrSnapshot, h.Sweeps)
	}
	return n, nil
}

// readLegacy reads a format 1 snapshot: one Snapshot message.
func readLegacy(r io.Reader) (*State, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrSnapshot, err)
	}
	var snap cfpb.Snapshot
	if err := proto.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("%w: %d bytes are neither a streamed snapshot nor a format 1 one: %w", ErrSnapshot, len(b), err)
	}
	if snap.Version != 1 {
		return nil, fmt.Errorf("%w: format version %d, this coordinator reads 1 and %d", ErrSnapshot, snap.Version, SnapshotVersion)
	}
	n := restoring(snap.NextLeaseId, snap.Workers, snap.Coordinators)
	for _, rec := range snap.Sweeps {
		b, err := n.begin(rec, len(rec.Shards))
		if err != nil {
			return nil, err
		}
		for _, p := range rec.Shards {
			if err := b.add(p); err != nil {
				return nil, err
			}
		}
		n.finish(b)
	}
	return n, nil
}

func restoring(nextLease uint64, workers []*cfpb.WorkerRecord, coordinators []*cfpb.SetCoordinator) *State {
	n := New()
	n.nextLease = nextLease
	for _, w := range workers {
		n.workers[w.Id] = w
	}
	for _, c := range coordinators {
		n.coordinators[c.Id] = c
	}
	return n
}

// sweepBuilder rebuilds one sweep shard by shard, with everything Apply
// derives from the shard table.
type sweepBuilder struct {
	sw     *sweepState
	k      int // next shard
	intern func(string) string
}

func (n *State) begin(rec *cfpb.SweepRecord, shards int) (*sweepBuilder, error) {
	if rec.GetId() == "" || n.sweeps[rec.Id] != nil {
		return nil, fmt.Errorf("%w: empty or repeated sweep id %q", ErrSnapshot, rec.GetId())
	}
	layout, err := sweep.NewLayout(rec.Spec)
	if err != nil {
		return nil, fmt.Errorf("%w: sweep %s: %w", ErrSnapshot, rec.Id, err)
	}
	if shards != layout.Shards() {
		return nil, fmt.Errorf("%w: sweep %s has %d shards, its spec lays out %d", ErrSnapshot, rec.Id, shards, layout.Shards())
	}
	sw := &sweepState{id: rec.Id, owner: rec.Owner, spec: rec.Spec, layout: layout, state: rec.State, submitted: rec.SubmittedNs,
		finished: rec.FinishedNs, alarms: rec.Alarms, shards: make([]shard, shards)}
	sw.setCopyTrials(rec.CopyDeterministicTrials)
	return &sweepBuilder{intern: n.intern, sw: sw}, nil
}

func (b *sweepBuilder) add(p *cfpb.Shard) error {
	sw, k := b.sw, b.k
	if p.State < cfpb.ShardState_SHARD_STATE_PENDING || p.State > cfpb.ShardState_SHARD_STATE_CANCELLED {
		return fmt.Errorf("%w: sweep %s shard %d: state %v", ErrSnapshot, sw.id, k, p.State)
	}
	if int(p.Index) != k {
		return fmt.Errorf("%w: sweep %s: shard %d where shard %d belongs", ErrSnapshot, sw.id, p.Index, k)
	}
	if copied, err := b.addCopy(p); copied || err != nil {
		return err
	}
	sw.shards[k] = shard{state: p.State, attempt: p.Attempt, failures: p.Failures, leaseID: p.LeaseId,
		worker: b.intern(p.Worker), notBefore: p.NotBeforeNs, lastError: p.LastError, completions: p.Completions}
	sw.counts[p.State]++
	sw.attempts += int64(p.Attempt)
	if p.Completions > 1 {
		sw.duplicates += int64(p.Completions - 1)
		sw.recomputed++
	}
	if p.State == cfpb.ShardState_SHARD_STATE_DONE {
		if p.Result.GetSummary() == nil {
			return fmt.Errorf("%w: sweep %s shard %d is done without a result", ErrSnapshot, sw.id, k)
		}
		if err := sweep.CheckSummary(p.Result.Summary, int(sw.layout.Shard("", k).Count)); err != nil {
			return fmt.Errorf("%w: sweep %s shard %d: %w", ErrSnapshot, sw.id, k, err)
		}
		sw.shards[k].result = newRecord(p.Result, b.intern)
		sw.images += p.Result.Summary.Images
		sw.durations.add(p.Result.DurationNs)
		// Snapshots older than the completion count hold 0.
		sw.shards[k].completions = max(p.Completions, 1)
	}
	if p.State == cfpb.ShardState_SHARD_STATE_PENDING && p.Attempt > 0 {
		sw.retry = append(sw.retry, k)
	}
	if p.LastError != "" {
		sw.noteError(k, p.LastError)
	}
	if p.Losses > 0 || len(p.LostOn) > 0 {
		if sw.losses == nil {
			sw.losses = map[int]*loss{}
		}
		sw.losses[k] = &loss{count: p.Losses, workers: slices.Clone(p.LostOn)}
	}
	b.k++
	return nil
}

func (n *State) finish(b *sweepBuilder) {
	// Retries in release order are not recorded; shard order is as fair.
	b.sw.advanceFresh()
	b.sw.startAdaptive()
	n.sweeps[b.sw.id] = b.sw
	n.order = append(n.order, b.sw.id)
}
