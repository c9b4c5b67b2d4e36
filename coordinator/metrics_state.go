package coordinator

import (
	"strings"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// stateCollector reports, at each scrape, the shards and sweeps of the
// replicated state (possibly stale on a follower) and this node's raft
// position.
type stateCollector struct {
	n *Node

	shards, sweepShards, sweepInfo, sweepAttempts, sweepImages, sweepAlarms *prometheus.Desc

	raftRole, raftTerm, raftCommit, raftApplied, raftLast, raftLeaderKnown *prometheus.Desc
}

func newStateCollector(n *Node) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &stateCollector{n: n,
		shards:        d("clipformer_shards", "Shards of all sweeps by state, from the replicated state.", "state"),
		sweepShards:   d("clipformer_sweep_shards", "A sweep's shards by state, from the replicated state.", "sweep", "state"),
		sweepInfo:     d("clipformer_sweep_info", "1 for each sweep, with its owner and state (running, paused, cancelled, done).", "sweep", "owner", "state"),
		sweepAttempts: d("clipformer_sweep_attempts", "Leases granted for a sweep's shards, retries included (attempts per shard: divide by the shards).", "sweep"),
		sweepImages:   d("clipformer_sweep_images_done", "Images evaluated in a sweep's done shards.", "sweep"),
		sweepAlarms:   d("clipformer_sweep_alarms", "Non-determinism alarms of a sweep: duplicate results whose numbers differed.", "sweep"),

		raftRole:        d("clipformer_raft_role", "1 for this node's raft role (leader, follower, candidate, shutdown), 0 for the others.", "role"),
		raftTerm:        d("clipformer_raft_term", "This node's current raft term."),
		raftCommit:      d("clipformer_raft_commit_index", "The highest raft log index this node knows to be committed."),
		raftApplied:     d("clipformer_raft_applied_index", "The highest raft log index this node has applied to its state."),
		raftLast:        d("clipformer_raft_last_index", "The highest raft log index in this node's log or snapshot."),
		raftLeaderKnown: d("clipformer_raft_leader_known", "1 when this node knows a leader (its health service then answers SERVING), else 0."),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.shards, c.sweepShards, c.sweepInfo, c.sweepAttempts, c.sweepImages, c.sweepAlarms,
		c.raftRole, c.raftTerm, c.raftCommit, c.raftApplied, c.raftLast, c.raftLeaderKnown} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.collectSweeps(ch)
	if c.n.raft != nil {
		c.collectRaft(ch)
	}
}

// shardStates are the state labels of the shard gauges, in cfpb.Progress
// order.
var shardStates = []string{"pending", "leased", "done", "failed", "cancelled"}

func progressCounts(p *cfpb.Progress) []int64 {
	return []int64{p.GetPending(), p.GetLeased(), p.GetDone(), p.GetFailed(), p.GetCancelled()}
}

func (c *stateCollector) collectSweeps(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	total := make([]int64, len(shardStates))
	for _, s := range c.n.st.Sweeps() {
		for i, v := range progressCounts(s.Progress) {
			total[i] += v
			gauge(c.sweepShards, float64(v), s.Id, shardStates[i])
		}
		gauge(c.sweepInfo, 1, s.Id, s.Owner, strings.ToLower(strings.TrimPrefix(s.State.String(), "SWEEP_STATE_")))
		gauge(c.sweepAttempts, float64(s.Attempts), s.Id)
		gauge(c.sweepImages, float64(s.Progress.GetImagesDone()), s.Id)
		gauge(c.sweepAlarms, float64(s.Alarms), s.Id)
	}
	for i, v := range total {
		gauge(c.shards, float64(v), shardStates[i])
	}
}

func (c *stateCollector) collectRaft(ch chan<- prometheus.Metric) {
	r := c.n.raft
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	role := r.State()
	for _, s := range []raft.RaftState{raft.Leader, raft.Follower, raft.Candidate, raft.Shutdown} {
		v := 0.0
		if s == role {
			v = 1
		}
		gauge(c.raftRole, v, strings.ToLower(s.String()))
	}
	gauge(c.raftTerm, float64(r.CurrentTerm()))
	gauge(c.raftCommit, float64(r.CommitIndex()))
	gauge(c.raftApplied, float64(r.AppliedIndex()))
	gauge(c.raftLast, float64(r.LastIndex()))
	known := 0.0
	if id, _ := c.n.LeaderAPI(); id != "" {
		known = 1
	}
	gauge(c.raftLeaderKnown, known)
}
