package local

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"syscall"
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

// fakeRun completes a shard at once with a summary shaped like a ViT-S
// result (12 blocks of signal and noise sums), derived from the shard so
// that any re-run gives the same numbers.
func fakeRun(_ context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
	x := uint64(w.Start)*0x9e3779b97f4a7c15 + uint64(w.Trial)
	s := &cfpb.Summary{Images: int64(w.Count), Correct: int64(w.Count) * 9 / 10}
	for i := range 12 {
		x = x*6364136223846793005 + 1442695040888963407
		s.Signal = append(s.Signal, &cfpb.Sum128{Hi: x >> 44, Lo: x ^ uint64(i)})
		s.Noise = append(s.Noise, &cfpb.Sum128{Hi: x >> 52, Lo: x * 3})
	}
	return s, nil
}

// BenchmarkThroughputMillionShardSweep runs a sweep of 1,000,000 ten-image
// shards the way `clipformer run` does (one coordinator with its raft log
// on disk, in-process workers over loopback gRPC) with workers that answer
// at once, up to half of it, and reports the completion rate around 1 %,
// 10 % and 50 % done: per-shard costs that grow with the sweep show as a
// falling rate. The "flat" metric is the lowest of the three over the
// highest. The process's CPU time per shard around each mark is reported
// too: on a machine shared with other work the wall-clock rate moves with
// the neighbours' load, while the CPU cost of a shard shows a growing
// per-shard cost on its own ("cpuflat": the lowest over the highest). One
// op is the whole run: -benchtime 1x.
func BenchmarkThroughputMillionShardSweep(b *testing.B) {
	shards := 1_000_000
	spec, err := sweep.Parse("million.yaml", []byte(fmt.Sprintf(
		"model: {path: m}\ndataset: {kind: folder, path: x, limit: %d}\ngrid: {gamma: [0]}\nimages_per_shard: 10\n", 10*shards)))
	if err != nil {
		b.Fatal(err)
	}
	marks := []float64{0.01, 0.10, 0.50}
	for range b.N {
		type sample struct {
			t    time.Time
			cpu  time.Duration
			done int64
		}
		var samples []sample
		ctx, cancel := context.WithCancel(context.Background())
		stopAt := int64(float64(shards) * (marks[len(marks)-1] + 0.005))
		_, _, err := Run(ctx, spec, Options{StateDir: b.TempDir(), Workers: 16, Run: fakeRun, Progress: func(s *cfpb.Sweep) {
			samples = append(samples, sample{time.Now(), processCPU(b), s.Progress.Done})
			if s.Progress.Done >= stopAt {
				cancel()
			}
		}})
		cancel()
		if err != nil && ctx.Err() == nil {
			b.Fatal(err)
		}
		// The rate over the window of +-0.5 % of the sweep around each mark.
		rate := func(mark float64) (perSecond, cpuPerShard float64) {
			lo, hi := int64(float64(shards)*(mark-0.005)), int64(float64(shards)*(mark+0.005))
			var a, z *sample
			for i := range samples {
				if a == nil && samples[i].done >= lo {
					a = &samples[i]
				}
				if samples[i].done >= hi {
					z = &samples[i]
					break
				}
			}
			if a == nil || z == nil || z == a {
				b.Fatalf("no progress samples around %.0f %%", 100*mark)
			}
			n := float64(z.done - a.done)
			return n / z.t.Sub(a.t).Seconds(), float64((z.cpu - a.cpu).Microseconds()) / n
		}
		var rates, costs []float64
		for _, m := range marks {
			r, c := rate(m)
			b.ReportMetric(r, fmt.Sprintf("shards/s@%g%%", 100*m))
			b.ReportMetric(c, fmt.Sprintf("cpu-us/shard@%g%%", 100*m))
			rates, costs = append(rates, r), append(costs, c)
		}
		b.ReportMetric(slices.Min(rates)/slices.Max(rates), "flat")
		b.ReportMetric(slices.Min(costs)/slices.Max(costs), "cpuflat")
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
