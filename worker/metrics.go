package worker

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clipformer/clipformer/internal/metricsserve"
)

// Metrics are a worker's Prometheus metrics, in a registry of its own so
// that several workers can live in one process (tests).
type Metrics struct {
	Registry     *prometheus.Registry
	images       prometheus.Counter
	shardSeconds *prometheus.HistogramVec
	modelLoad    prometheus.Histogram
	slots        prometheus.Gauge
	slotsInUse   prometheus.Gauge
	connected    prometheus.Gauge
	draining     prometheus.Gauge
	acknowledged prometheus.Counter
}

// shardOutcomes are the outcome labels of the shard-duration histogram.
var shardOutcomes = []string{"done", "failed", "cancelled"}

// NewMetrics returns a worker's metrics, registered in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		images: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_worker_images_total",
			Help: "Images evaluated, counted as shards report progress (rate: images per second)."}),
		shardSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "clipformer_worker_shard_seconds",
			Help:    "Time a shard ran on this worker, by outcome (done, failed, cancelled).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}, []string{"outcome"}),
		modelLoad: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "clipformer_worker_model_load_seconds",
			Help:    "Time to read and parse a model checkpoint (once per model and worker process).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		slots: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clipformer_worker_slots",
			Help: "Shards this worker runs at once (--slots)."}),
		slotsInUse: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clipformer_worker_slots_in_use",
			Help: "Shards running on this worker now."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clipformer_worker_connected",
			Help: "1 while the worker has a Work stream open to the leader, else 0."}),
		draining: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clipformer_worker_draining",
			Help: "1 once the worker drains (SIGTERM): it finishes what it holds and takes nothing new."}),
		acknowledged: prometheus.NewCounter(prometheus.CounterOpts{Name: "clipformer_worker_results_acknowledged_total",
			Help: "Shard results the leader acknowledged (committed)."}),
	}
	for _, o := range shardOutcomes {
		m.shardSeconds.WithLabelValues(o)
	}
	m.Registry.MustRegister(m.images, m.shardSeconds, m.modelLoad, m.slots, m.slotsInUse, m.connected, m.draining,
		m.acknowledged, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeModelLoad records one checkpoint load; a nil Metrics records
// nothing (an Executor used outside a worker).
func (m *Metrics) observeModelLoad(d time.Duration) {
	if m != nil {
		m.modelLoad.Observe(d.Seconds())
	}
}

// ServeMetrics serves a worker's metrics at http(s)://addr/metrics until
// Close: in plain text on loopback only (a bare ":PORT" means loopback), on
// any interface over mutual TLS, where scrapers present a client or admin
// certificate. tlsCfg is the worker's server configuration from certs.Load.
func ServeMetrics(addr string, reg prometheus.Gatherer, tlsCfg *tls.Config, log *slog.Logger) (*metricsserve.Server, error) {
	return metricsserve.Serve(addr, reg, tlsCfg, log)
}
