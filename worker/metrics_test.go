package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/internal/filehash"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// ackingCoordinator assigns shards 1 and 2 of 10 images each and
// acknowledges every result and failure.
type ackingCoordinator struct {
	cfpb.UnimplementedWorkServer
}

func (c *ackingCoordinator) Work(stream cfpb.Work_WorkServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Welcome{Welcome: &cfpb.Welcome{CoordinatorId: "c"}}}); err != nil {
		return err
	}
	for shard := int32(1); shard <= 2; shard++ {
		lease := &cfpb.LeaseRef{SweepId: "s", Shard: shard, LeaseId: uint64(shard), Attempt: 1}
		assign := &cfpb.Assign{Lease: lease, Spec: &cfpb.SweepSpec{}, Work: &cfpb.ShardWork{Shard: shard, Count: 10}}
		if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Assign{Assign: assign}}); err != nil {
			return err
		}
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		var lease *cfpb.LeaseRef
		if r := m.GetResult(); r != nil {
			lease = &cfpb.LeaseRef{SweepId: r.SweepId, Shard: r.Shard, LeaseId: r.LeaseId}
		} else if f := m.GetFailure(); f != nil {
			lease = f.Lease
		}
		if lease != nil {
			if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Ack{Ack: lease}}); err != nil {
				return err
			}
		}
	}
}

// scrapeWorker scrapes a worker's metrics over HTTP on loopback and
// returns each series as "name{k=v,...}" (labels sorted; a histogram as
// its _count) with its value.
func scrapeWorker(t *testing.T, m *worker.Metrics) map[string]float64 {
	t.Helper()
	srv, err := worker.ServeMetrics(":0", m.Registry, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, s := range f.Metric {
			out[seriesKey(name, s)] = seriesValue(s)
		}
	}
	return out
}

func seriesKey(name string, s *dto.Metric) string {
	var ls []string
	for _, l := range s.Label {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	if len(ls) == 0 {
		return name
	}
	return name + "{" + strings.Join(ls, ",") + "}"
}

func seriesValue(s *dto.Metric) float64 {
	switch {
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	case s.Counter != nil:
		return s.Counter.GetValue()
	}
	return s.Gauge.GetValue()
}

// waitMetrics scrapes until every wanted series has its value.
func waitMetrics(t *testing.T, m *worker.Metrics, what string, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrapeWorker(t, m)
		var wrong []string
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v (present %v), want %v", k, g, ok, v))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, strings.Join(wrong, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A worker's metrics follow its shards: slots in use while one runs, images
// as it reports progress, shard durations by outcome, acknowledgements,
// the stream and the drain.
func TestWorkerMetricsFollowItsShards(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	cfpb.RegisterWorkServer(srv, &ackingCoordinator{})
	go srv.Serve(lis)
	defer srv.Stop()

	release := make(chan struct{})
	run := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, progress func(int)) (*cfpb.Summary, error) {
		if w.Shard == 2 {
			return nil, errors.New("shard 2 fails")
		}
		progress(4)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &cfpb.Summary{Images: int64(w.Count)}, nil
	}
	// The fake never pings: a long Silence keeps its one stream, and so
	// its one assignment of each shard.
	w := worker.New(worker.Config{ID: "w", Coordinators: []string{lis.Addr().String()}, Slots: 3, Run: run, Silence: time.Hour})
	m := w.Metrics()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	waitMetrics(t, m, "shard 1 running, shard 2 failed", map[string]float64{
		"clipformer_worker_slots": 3, "clipformer_worker_slots_in_use": 1, "clipformer_worker_connected": 1,
		"clipformer_worker_images_total": 4, "clipformer_worker_shard_seconds{outcome=failed}": 1,
		"clipformer_worker_shard_seconds{outcome=done}": 0, "clipformer_worker_results_acknowledged_total": 0,
		"clipformer_worker_draining": 0,
	})
	close(release)
	waitMetrics(t, m, "shard 1 done", map[string]float64{
		"clipformer_worker_slots_in_use": 0, "clipformer_worker_images_total": 10,
		"clipformer_worker_shard_seconds{outcome=done}": 1, "clipformer_worker_results_acknowledged_total": 1,
	})
	w.Drain()
	waitMetrics(t, m, "drained", map[string]float64{"clipformer_worker_draining": 1})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not drain")
	}
}

// Loading a checkpoint is timed once per model, however many shards use it.
func TestExecutorTimesEachModelLoadOnce(t *testing.T) {
	const bundled = "../models/vit-mnist.safetensors"
	sum, err := filehash.SHA256(bundled)
	if err != nil {
		t.Fatal(err)
	}
	m := worker.NewMetrics()
	e := &worker.Executor{Threads: 1, DataRoots: []string{"../models"}, Metrics: m}
	for range 2 {
		if _, err := e.Model(&cfpb.ModelRef{Path: bundled, Sha256: sum}); err != nil {
			t.Fatal(err)
		}
	}
	if got := scrapeWorker(t, m)["clipformer_worker_model_load_seconds"]; got != 1 {
		t.Fatalf("clipformer_worker_model_load_seconds has %v observations after loading one model twice, want 1", got)
	}
}
