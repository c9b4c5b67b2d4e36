package deploy_test

import (
	"context"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// prometheusMade are series Prometheus makes itself for every target.
var prometheusMade = map[string]bool{"up": true}

// registeredMetrics gathers the metric families a coordinator (leading,
// with one sweep, so that the per-sweep series exist) and a worker really
// register, with each histogram's _bucket, _sum and _count series.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	_, tr := raft.NewInmemTransport("raft-solo")
	n, err := coordinator.NewNode(coordinator.Config{ID: "solo", Transport: tr, InMemory: true, Fast: true, Embedded: true,
		RaftLog: io.Discard, Peers: []coordinator.Peer{{ID: "solo", Raft: "raft-solo", GRPC: "127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	spec, err := sweep.Parse("t.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 4}\ngrid: {gamma: [0]}\nimages_per_shard: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	sweep.ApplyDefaults(spec)
	err = coordinator.Retry(ctx, 30*time.Second, coordinator.RetryRefusals, func(context.Context) error {
		_, err := n.Apply(&cfpb.Command{Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{SweepId: "s", Spec: spec}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, reg := range []prometheus.Gatherer{n.Metrics.Registry, worker.NewMetrics().Registry} {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			names[f.GetName()] = true
			if f.GetType().String() == "HISTOGRAM" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[f.GetName()+suffix] = true
				}
			}
		}
	}
	for _, want := range []string{"clipformer_raft_role", "clipformer_sweep_shards", "clipformer_worker_images_total"} {
		if !names[want] {
			t.Fatalf("the registries lack %s: the gathering is broken", want)
		}
	}
	return names
}

var (
	promqlStrings    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers   = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlLabelLists = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent      = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(\s*\()?`)
	promqlKeywords   = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// promqlMetrics lists the metric names a PromQL expression (or a Grafana
// query such as label_values(metric, label)) reads: the identifiers left
// once strings, label matchers, ranges, label lists, functions and
// keywords are taken out.
func promqlMetrics(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlMatchers.ReplaceAllString(e, " ")
	e = promqlLabelLists.ReplaceAllString(e, " ")
	if strings.HasPrefix(strings.TrimSpace(e), "label_values(") {
		// label_values(metric, label): the label is not a metric.
		if i := strings.LastIndex(e, ","); i >= 0 {
			e = e[:i] + ")"
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, m := range promqlIdent.FindAllStringSubmatch(e, -1) {
		name := m[0]
		if m[1] != "" || promqlKeywords[strings.ToLower(name)] || seen[name] {
			continue // a function or aggregation, a keyword, or seen
		}
		seen[name] = true
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestPromqlMetricsFindsTheMetricsOfAnExpression(t *testing.T) {
	for expr, want := range map[string]string{
		`max by (sweep) (clipformer_sweep_info{state="running"}) and on (sweep) max by (sweep) (x_total offset 30m)`: "clipformer_sweep_info x_total",
		`histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"w|c"}[$__rate_interval])))`:                       "a_bucket",
		`(sum(up{job="c"}) or vector(0)) < 1`:                "up",
		`a / ignoring(state) group_left(owner) b > bool 0.1`: "a b",
		`label_values(clipformer_sweep_info, sweep)`:         "clipformer_sweep_info",
		`rate(a[5m]) / (rate(b[5m]) + rate(a[5m]))`:          "a b",
		`"quoted_name_is_no_metric" == 1 unless c`:           "c",
	} {
		if got := strings.Join(promqlMetrics(expr), " "); got != want {
			t.Errorf("promqlMetrics(%q) = %q, want %q", expr, got, want)
		}
	}
}

// checkMetrics reports each metric an expression reads that no registry
// has; where names the expression for the message.
func checkMetrics(t *testing.T, known map[string]bool, where, expr string) int {
	t.Helper()
	found := promqlMetrics(expr)
	for _, name := range found {
		if !known[name] && !prometheusMade[name] {
			t.Errorf("%s reads %s, which neither a coordinator nor a worker registers: %s", where, name, expr)
		}
	}
	return len(found)
}
