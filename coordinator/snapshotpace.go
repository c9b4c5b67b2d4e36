package coordinator

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// snapshotBaseThreshold is the fewest new log entries that make raft take
// a snapshot; snapshotLogShare is how much log, as a share of the last
// snapshot's size, must accumulate before the next one.
const (
	snapshotBaseThreshold = 4096
	snapshotLogShare      = 0.5
)

// snapshotPacer keeps the cost of snapshots proportional to the log
// written. Raft's own trigger (a check every SnapshotInterval, a snapshot
// once SnapshotThreshold entries are new) rewrites the whole state each
// time. As a sweep's recorded results grow, each snapshot costs more while
// the log between two of them does not, so without pacing the cost per
// shard grows with the sweep (at half of a 1,000,000-shard sweep, a 230 MB
// snapshot every 30 s for about 15 MB of log). After each snapshot the
// pacer raises the threshold so that the next one waits until the log has
// grown by half the last snapshot's size: each byte of log pays for at
// most two bytes of snapshot, whatever the state's size, and a restart
// replays at most that much log on top of the snapshot.
type snapshotPacer struct {
	entries, bytes atomic.Uint64 // applied log entries and their bytes

	mu   sync.Mutex
	raft *raft.Raft
}

// applied counts one applied log entry of n bytes.
func (p *snapshotPacer) applied(n int) {
	p.entries.Add(1)
	p.bytes.Add(uint64(n))
}

// attach starts pacing r; snapshots persisted before it only count.
func (p *snapshotPacer) attach(r *raft.Raft) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.raft = r
}

// threshold is the entry count for the next snapshot after one of size
// bytes: half its size in log, at the mean entry size seen so far.
func (p *snapshotPacer) threshold(size int64) uint64 {
	entries, bytes := p.entries.Load(), p.bytes.Load()
	if entries == 0 || bytes == 0 || size <= 0 {
		return snapshotBaseThreshold
	}
	mean := float64(bytes) / float64(entries)
	return max(snapshotBaseThreshold, uint64(snapshotLogShare*float64(size)/mean))
}

// persisted sets the threshold after a snapshot of size bytes.
func (p *snapshotPacer) persisted(size int64) {
	t := p.threshold(size)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.raft == nil {
		return
	}
	rc := p.raft.ReloadableConfig()
	if rc.SnapshotThreshold == t {
		return
	}
	rc.SnapshotThreshold = t
	// Only an invalid config is refused, and the threshold never makes one.
	_ = p.raft.ReloadConfig(rc)
}
