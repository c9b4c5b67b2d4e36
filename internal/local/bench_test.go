package local

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// BenchmarkOverheadVsDirect runs examples/bench-overhead.yaml twice side by
// side: directly (one sim evaluation per point and trial over all images,
// on every core) and through the orchestrator (a coordinator and one worker
// per core, shards of 500 images), each with a fresh executor so both pay
// for loading the model and calibrating. It reports the time ratio.
func BenchmarkOverheadVsDirect(b *testing.B) {
	spec, err := sweep.Load("../../examples/bench-overhead.yaml")
	if err != nil {
		b.Fatal(err)
	}
	spec.Model.Path = "../../" + spec.Model.Path
	l, err := sweep.NewLayout(spec)
	if err != nil {
		b.Fatal(err)
	}
	cores := runtime.NumCPU()
	var direct, orchestrated time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		exec := &worker.Executor{AllowUnchecked: true, Threads: cores}
		for _, p := range l.Points {
			for t := 0; t < l.Trials; t++ {
				if _, err := exec.Run(context.Background(), spec, &cfpb.ShardWork{Trial: int32(t), Count: int32(l.Images), Point: p}, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		direct += time.Since(start)

		start = time.Now()
		if _, _, err := Run(context.Background(), spec, Options{Workers: cores, ThreadsPerWorker: 1,
			Exec: &worker.Executor{AllowUnchecked: true}}); err != nil {
			b.Fatal(err)
		}
		orchestrated += time.Since(start)
	}
	b.ReportMetric(direct.Seconds()/float64(b.N), "direct_s")
	b.ReportMetric(orchestrated.Seconds()/float64(b.N), "orchestrated_s")
	b.ReportMetric(orchestrated.Seconds()/direct.Seconds(), "ratio")
}
