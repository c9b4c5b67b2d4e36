package coordinator

import (
	"crypto/tls"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/metricsserve"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Metrics are a node's Prometheus metrics, in a registry of its own so that
// several nodes can live in one process. The counters fed by applied
// commands (results, failures, attempts, alarms) count on every replica
// alike: aggregate them over coordinators with max, not sum.
type Metrics struct {
	Registry         *prometheus.Registry
	applyLatency     prometheus.Histogram
	resultsTotal     prometheus.Counter
	shardsFailed     prometheus.Counter
	shardAttempts    *prometheus.HistogramVec
	releases         *prometheus.CounterVec
	leasesExpired    prometheus.Counter
	leasesStalled    prometheus.Counter
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
		shardsFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_shard_failures_total",
			Help: "Shards that failed for good (attempts or losses used up), as applied on this node."}),
		shardAttempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "clipformer_shard_attempts",
			Help:    "Leases a shard took before it ended (outcome done or failed), as applied on this node.",
			Buckets: prometheus.LinearBuckets(1, 1, state.MaxTotalLosses)}, []string{"outcome"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clipformer_lease_releases_total",
			Help: "Leases that ended without a result, by reason (error, expired and stalled count as failed attempts; lost and returned do not), as applied on this node."},
			[]string{"reason"}),
		leasesExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_leases_expired_total",
			Help: "Leases that ended without a heartbeat within the TTL (while leading)."}),
		leasesStalled: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_leases_stalled_total",
			Help: "Leases revoked because their images-done count stopped moving (while leading)."}),
		redispatches: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_redispatches_total",
			Help: "Shards leased again after an earlier attempt (while leading)."}),
		alarms: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_nondeterminism_alarms_total",
			Help: "Duplicate results whose numbers differed from the recorded ones."}),
		workersConnected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clipformer_workers_connected",
			Help: "Workers with an open Work stream to this node."}),
	}
	// Every label present from the start, so that rate() sees the first
	// increase.
	for _, o := range []string{"done", "failed"} {
		m.shardAttempts.WithLabelValues(o)
	}
	for _, r := range releaseReasons {
		m.releases.WithLabelValues(r)
	}
	m.Registry.MustRegister(m.applyLatency, m.resultsTotal, m.shardsFailed, m.shardAttempts, m.releases, m.leasesExpired,
		m.leasesStalled, m.redispatches, m.alarms, m.workersConnected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// releaseReasons are the reason labels of clipformer_lease_releases_total.
var releaseReasons = []string{"lost", "expired", "error", "returned", "stalled"}

// reasonLabel is a release reason's label: RELEASE_REASON_LOST is "lost".
func reasonLabel(r cfpb.ReleaseReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "RELEASE_REASON_"))
}

// observeApplied counts what one applied command did.
func (m *Metrics) observeApplied(r *state.Response) {
	m.resultsTotal.Add(float64(r.Completed))
	m.shardsFailed.Add(float64(r.Failed))
	m.alarms.Add(float64(r.Alarms))
	for reason, n := range r.ReleasedBy {
		m.releases.WithLabelValues(reasonLabel(reason)).Add(float64(n))
	}
	for _, f := range r.Finished {
		outcome := "done"
		if f.Failed {
			outcome = "failed"
		}
		m.shardAttempts.WithLabelValues(outcome).Observe(float64(f.Attempts))
	}
}

// registerStateMetrics adds the gauges read from the replicated state and
// from raft at each scrape.
func (n *Node) registerStateMetrics() {
	n.Metrics.Registry.MustRegister(newStateCollector(n))
}

// ErrMetricsExposed refuses plain-text metrics on an interface other than
// loopback.
var ErrMetricsExposed = metricsserve.ErrExposed

// MetricsServer serves a node's Prometheus metrics at /metrics.
type MetricsServer = metricsserve.Server

// ServeMetrics serves reg at http(s)://addr/metrics until Close: on
// loopback only in plain text, on any interface over mutual TLS (see
// metricsserve.Serve). tlsCfg is a server configuration from certs.Load.
func ServeMetrics(addr string, reg prometheus.Gatherer, tlsCfg *tls.Config, log *slog.Logger) (*MetricsServer, error) {
	return metricsserve.Serve(addr, reg, tlsCfg, log)
}
