package coordinator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Metrics are a node's Prometheus metrics, in a registry of its own so that
// several nodes can live in one process.
type Metrics struct {
	Registry         *prometheus.Registry
	applyLatency     prometheus.Histogram
	resultsTotal     prometheus.Counter
	leasesExpired    prometheus.Counter
	redispatches     prometheus.Counter
	alarms           prometheus.Counter
	workersConnected prometheus.Gauge
}

func newMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "clipformer_raft_apply_seconds",
			Help: "Latency of raft applies proposed by this node.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		resultsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_shard_results_total",
			Help: "Shard results recorded (first completions), as applied on this node."}),
		leasesExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_leases_expired_total",
			Help: "Leases that ended without a heartbeat within the TTL (while leading)."}),
		redispatches: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_redispatches_total",
			Help: "Shards leased again after an earlier attempt (while leading)."}),
		alarms: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_nondeterminism_alarms_total",
			Help: "Duplicate results whose numbers differed from the recorded ones."}),
		workersConnected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clipformer_workers_connected",
			Help: "Workers with an open Work stream to this node."}),
	}
	m.Registry.MustRegister(m.applyLatency, m.resultsTotal, m.leasesExpired, m.redispatches, m.alarms,
		m.workersConnected, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// shardCollector reports shards by state from the replicated state.
type shardCollector struct {
	n    *Node
	desc *prometheus.Desc
}

func (c shardCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c shardCollector) Collect(ch chan<- prometheus.Metric) {
	var p cfpb.Progress
	for _, s := range c.n.st.Sweeps() {
		p.Pending += s.Progress.Pending
		p.Leased += s.Progress.Leased
		p.Done += s.Progress.Done
		p.Failed += s.Progress.Failed
		p.Cancelled += s.Progress.Cancelled
	}
	for _, v := range []struct {
		state string
		n     int64
	}{{"pending", p.Pending}, {"leased", p.Leased}, {"done", p.Done}, {"failed", p.Failed}, {"cancelled", p.Cancelled}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(v.n), v.state)
	}
}

func (n *Node) registerStateMetrics() {
	n.Metrics.Registry.MustRegister(shardCollector{n: n, desc: prometheus.NewDesc("clipformer_shards",
		"Shards of all sweeps by state, from the replicated state.", []string{"state"}, nil)})
}
