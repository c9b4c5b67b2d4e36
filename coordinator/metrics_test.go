package coordinator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

func scrape(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// scrapeFamilies serves reg on loopback, scrapes it once over HTTP and
// parses the text exposition.
func scrapeFamilies(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	m, err := coordinator.ServeMetrics("127.0.0.1:0", reg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	body, err := scrape(&http.Client{Timeout: 5 * time.Second}, "http://"+m.Addr().String()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

// sample finds the series of name whose labels include want ("k=v"
// pairs); ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) (*dto.Metric, bool) {
	f := fams[name]
	if f == nil {
		return nil, false
	}
next:
	for _, m := range f.Metric {
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			found := false
			for _, l := range m.Label {
				found = found || l.GetName() == k && l.GetValue() == v
			}
			if !found {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// value is a gauge's or counter's value, or a histogram's count and sum
// as "count/sum"; "absent" when there is no such series.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) string {
	m, ok := sample(fams, name, want...)
	switch {
	case !ok:
		return "absent"
	case m.Histogram != nil:
		return fmt.Sprintf("%d/%g", m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum())
	case m.Counter != nil:
		return fmt.Sprint(m.Counter.GetValue())
	}
	return fmt.Sprint(m.Gauge.GetValue())
}

// A sweep whose shard 0 always fails and shard 1 fails once moves the
// raft position, the attempts per shard, the failure counters and the
// per-sweep gauges, on the leader and (replicated) on a follower.
func TestCoordinatorMetricsFollowRaftShardsAndAttempts(t *testing.T) {
	c := newTestCluster(t, 3, coordinator.Config{Embedded: true, BackoffBase: 5 * time.Millisecond})
	lead := c.leader(-1)
	follower := (lead + 1) % 3
	before := scrapeFamilies(t, c.nodes[lead].Metrics.Registry)
	for node, role := range map[int]string{lead: "leader", follower: "follower"} {
		fams := scrapeFamilies(t, c.nodes[node].Metrics.Registry)
		if v := value(fams, "clipformer_raft_role", "role="+role); v != "1" {
			t.Errorf("node %d: clipformer_raft_role{role=%q} = %s, want 1", node, role, v)
		}
		if v := value(fams, "clipformer_raft_leader_known"); v != "1" {
			t.Errorf("node %d: clipformer_raft_leader_known = %s, want 1", node, v)
		}
	}
	if v := value(before, "clipformer_raft_term"); v == "0" || v == "absent" {
		t.Errorf("clipformer_raft_term = %s after an election", v)
	}

	var mu sync.Mutex
	tries := map[int32]int{}
	run := func(_ context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
		mu.Lock()
		tries[w.Shard]++
		n := tries[w.Shard]
		mu.Unlock()
		if w.Shard == 0 || w.Shard == 1 && n == 1 {
			return nil, fmt.Errorf("shard %d try %d fails", w.Shard, n)
		}
		return fakeSummary(w), nil
	}
	var pool workerPool
	defer pool.stopAll()
	pool.start(context.Background(), "w", worker.New(worker.Config{ID: "w", Coordinators: c.addrs(), Slots: 2, Run: run, RetryDelay: 20 * time.Millisecond}))
	sweeps, _ := c.client(lead)
	sw := submit(t, sweeps, mustSpec(t, "model: {path: m}\ndataset: {kind: mnist, limit: 8}\ngrid: {gamma: [0]}\nimages_per_shard: 2\n"))
	waitDone(t, sweeps, sw.Id, 30*time.Second)

	// Shard 0 took 3 attempts and failed; shard 1 took 2, shards 2 and 3
	// one each: 7 leases, 4 of them failed attempts.
	want := map[string]string{
		`clipformer_shard_attempts{outcome=done}`:        "3/4",
		`clipformer_shard_attempts{outcome=failed}`:      "1/3",
		`clipformer_lease_releases_total{reason=error}`:  "4",
		`clipformer_shard_failures_total`:                "1",
		`clipformer_shard_results_total`:                 "3",
		`clipformer_sweep_shards{sweep=ID,state=done}`:   "3",
		`clipformer_sweep_shards{sweep=ID,state=failed}`: "1",
		`clipformer_sweep_info{sweep=ID,state=done}`:     "1",
		`clipformer_sweep_attempts{sweep=ID}`:            "7",
		`clipformer_sweep_images_done{sweep=ID}`:         "6",
		`clipformer_sweep_alarms{sweep=ID}`:              "0",
		`clipformer_shards{state=done}`:                  "3",
	}
	for _, node := range []int{lead, follower} {
		waitMetricValues(t, fmt.Sprintf("node %d", node), c.nodes[node].Metrics.Registry, sw.Id, want, value(before, "clipformer_raft_commit_index"))
	}
}

// waitMetricValues scrapes who's reg until every series in want (a selector,
// with ID for the sweep id, and its value) holds, and the commit index has
// moved past before and is all applied; a follower applies the last
// entries a moment after the leader.
func waitMetricValues(t *testing.T, who string, reg prometheus.Gatherer, id string, want map[string]string, before string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams := scrapeFamilies(t, reg)
		var wrong []string
		for key, v := range want {
			name, labels, _ := strings.Cut(strings.TrimSuffix(strings.ReplaceAll(key, "ID", id), "}"), "{")
			var sel []string
			if labels != "" {
				sel = strings.Split(labels, ",")
			}
			if got := value(fams, name, sel...); got != v {
				wrong = append(wrong, fmt.Sprintf("%s = %s, want %s", key, got, v))
			}
		}
		commit, applied := value(fams, "clipformer_raft_commit_index"), value(fams, "clipformer_raft_applied_index")
		if commit == "absent" || commit == before || applied != commit {
			wrong = append(wrong, fmt.Sprintf("commit index %s (before the sweep %s), applied %s", commit, before, applied))
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", who, strings.Join(wrong, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
