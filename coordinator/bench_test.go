package coordinator_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// tcpCluster starts n coordinators with raft over loopback TCP and the
// log in bolt files: the production configuration minus TLS.
func tcpCluster(b testing.TB, n int) ([]*coordinator.Node, []string) {
	var peers []coordinator.Peer
	var lis []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		r, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		raftAddr := r.Addr().String()
		r.Close()
		lis = append(lis, l)
		peers = append(peers, coordinator.Peer{ID: fmt.Sprintf("c%d", i), Raft: raftAddr, GRPC: l.Addr().String()})
	}
	var nodes []*coordinator.Node
	var addrs []string
	for i := 0; i < n; i++ {
		nd, err := coordinator.NewNode(coordinator.Config{ID: peers[i].ID, RaftBind: peers[i].Raft, GRPCAdvertise: peers[i].GRPC,
			DataDir: b.TempDir(), Peers: peers, Embedded: true, Fast: true, RaftLog: io.Discard, InMemory: os.Getenv("BENCH_INMEM") != ""})
		if err != nil {
			b.Fatal(err)
		}
		srv := grpc.NewServer(coordinator.ServerOptions(nil)...)
		nd.Register(srv, nil)
		go srv.Serve(lis[i])
		b.Cleanup(func() { srv.Stop(); nd.Shutdown() })
		nodes = append(nodes, nd)
		addrs = append(addrs, peers[i].GRPC)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, nd := range nodes {
		if err := nd.WaitLeader(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return nodes, addrs
}

func instant(_ context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
	return &cfpb.Summary{Images: int64(w.Count), Correct: int64(w.Count) / 2}, nil
}

// BenchmarkCoordinatorThroughput3Nodes measures shard completions per second
// through a three-node raft cluster, with workers that complete shards
// without simulating. One op is one shard.
func BenchmarkCoordinatorThroughput3Nodes(b *testing.B) {
	for _, workers := range []int{8} {
		b.Run(fmt.Sprintf("workers%dx64slots", workers), func(b *testing.B) {
			_, addrs := tcpCluster(b, 3)
			shards := max(b.N, 1000)
			spec := mustSpec(b, fmt.Sprintf(`
model: {path: m.safetensors}
dataset: {kind: folder, path: x, limit: %d}
grid: {gamma: [0]}
images_per_shard: 1
`, shards))
			conn, err := grpc.NewClient(addrs[0], coordinator.DialOptions(nil)...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := cfpb.NewSweepsClient(conn)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 0; i < workers; i++ {
				w := worker.New(worker.Config{ID: fmt.Sprintf("w%d", i), Coordinators: addrs, Slots: 64, Run: instant, RetryDelay: 20 * time.Millisecond})
				go w.Run(ctx)
			}
			time.Sleep(200 * time.Millisecond) // workers connected
			b.ResetTimer()
			start := time.Now()
			sw, err := client.Submit(ctx, &cfpb.SubmitRequest{Spec: spec})
			if err != nil {
				b.Fatal(err)
			}
			for {
				s, err := client.Get(ctx, &cfpb.SweepRef{Id: sw.Id})
				if err == nil && s.State == cfpb.SweepState_SWEEP_STATE_DONE {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(shards)/el.Seconds(), "shards/s")
		})
	}
}

// BenchmarkSchedulingEfficiency runs W workers of one slot whose shards take
// a fixed time T (100 ms and 1 s), on a three-node cluster,
// and reports the fraction of the ideal time (shards x T / W) that the sweep
// achieved. Each op is one whole sweep of 20 shards per worker.
func BenchmarkSchedulingEfficiency(b *testing.B) {
	const perWorker = 20
	type cfg struct {
		shardTime time.Duration
		workers   int
	}
	var cases []cfg
	for _, w := range []int{1, 2, 4, 8, 16, 32, 64} {
		cases = append(cases, cfg{100 * time.Millisecond, w})
	}
	for _, w := range []int{1, 2, 4, 8, 16, 32, 64} {
		cases = append(cases, cfg{time.Second, w})
	}
	for _, c := range cases {
		shardTime, workers := c.shardTime, c.workers
		b.Run(fmt.Sprintf("shard%v/workers%d", shardTime, workers), func(b *testing.B) {
			_, addrs := tcpCluster(b, 3)
			conn, err := grpc.NewClient(addrs[0], coordinator.DialOptions(nil)...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := cfpb.NewSweepsClient(conn)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sleep := func(ctx context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
				select {
				case <-time.After(shardTime):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return &cfpb.Summary{Images: int64(w.Count)}, nil
			}
			for i := 0; i < workers; i++ {
				w := worker.New(worker.Config{ID: fmt.Sprintf("w%d", i), Coordinators: addrs, Slots: 1, Run: sleep, RetryDelay: 20 * time.Millisecond})
				go w.Run(ctx)
			}
			time.Sleep(300 * time.Millisecond)
			var eff float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				spec := mustSpec(b, fmt.Sprintf("model: {path: m}\ndataset: {kind: folder, path: x, limit: %d}\ngrid: {gamma: [0]}\nimages_per_shard: 1\nseed: %d\n",
					workers*perWorker, i+1))
				start := time.Now()
				sw, err := client.Submit(ctx, &cfpb.SubmitRequest{Spec: spec})
				if err != nil {
					b.Fatal(err)
				}
				for {
					s, err := client.Get(ctx, &cfpb.SweepRef{Id: sw.Id})
					if err == nil && s.State == cfpb.SweepState_SWEEP_STATE_DONE {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
				ideal := time.Duration(perWorker) * shardTime
				eff = 100 * ideal.Seconds() / time.Since(start).Seconds()
			}
			b.ReportMetric(eff, "%ideal")
		})
	}
}

// heapPeak samples the heap (live and not yet collected objects) until
// stopped, and returns the largest sample in bytes.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			max = maxU(max, sample[0].Value.Uint64())
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// liveHeap is the heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// realSummary is a shard summary shaped like a ViT-S result: 12 blocks of
// exact signal and noise sums with full 64-bit fractions.
func realSummary(rng *rand.Rand, images int64) *cfpb.Summary {
	s := &cfpb.Summary{Images: images, Correct: images * 9 / 10}
	for range 12 {
		s.Signal = append(s.Signal, &cfpb.Sum128{Hi: uint64(rng.IntN(1 << 20)), Lo: rng.Uint64()})
		s.Noise = append(s.Noise, &cfpb.Sum128{Hi: uint64(rng.IntN(1 << 12)), Lo: rng.Uint64()})
	}
	return s
}

// fillState submits sweeps of shards ten-image shards each and completes
// every shard with a realSummary, in commands of 4096 assignments and
// 4096 results as the leader batches them.
func fillState(b *testing.B, st *state.State, sweeps, shards int) {
	rng := rand.New(rand.NewPCG(1, 2))
	spec := mustSpec(b, fmt.Sprintf("model: {path: m}\ndataset: {kind: folder, path: x, limit: %d}\ngrid: {gamma: [0]}\nimages_per_shard: 10\n", 10*shards))
	now := int64(1)
	apply := func(c *cfpb.Command) *state.Response {
		now++
		c.NowNs = now
		r := st.Apply(c)
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		return r
	}
	for i := range sweeps {
		id := fmt.Sprintf("sweep-%02d", i)
		apply(&cfpb.Command{Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{SweepId: id, Spec: spec, Owner: "bench"}}})
		for lo := 0; lo < shards; lo += 4096 {
			var as []*cfpb.Assignment
			for k := lo; k < min(lo+4096, shards); k++ {
				as = append(as, &cfpb.Assignment{SweepId: id, Shard: int32(k), Worker: fmt.Sprintf("worker-%d", k%16)})
			}
			var rs []*cfpb.ShardResult
			for _, l := range apply(&cfpb.Command{Cmd: &cfpb.Command_Assign{Assign: &cfpb.AssignShards{Assignments: as}}}).Granted {
				rs = append(rs, &cfpb.ShardResult{SweepId: id, Shard: l.Shard, Attempt: l.Attempt, LeaseId: l.LeaseId,
					Worker: fmt.Sprintf("worker-%d", l.Shard%16), Summary: realSummary(rng, 10), DurationNs: int64(1e9 + rng.IntN(1e9)),
					SimVersion: "clipformer v0.9.0"})
			}
			if r := apply(&cfpb.Command{Cmd: &cfpb.Command_Complete{Complete: &cfpb.CompleteShards{Results: rs}}}); r.Completed != len(rs) {
				b.Fatalf("completed %d of %d", r.Completed, len(rs))
			}
		}
	}
}

// BenchmarkStateTenSweepsOf100kShards fills the replicated state with 10
// done sweeps of 100,000 shards, each with a 12-block summary, then
// snapshots it to a file and restores a fresh state from that file, as a
// coordinator does. It reports the live heap of the full state, the peak
// heap (garbage included) of each phase, the snapshot's size and the
// snapshot and restore times. One op is the whole sequence: -benchtime 1x.
func BenchmarkStateTenSweepsOf100kShards(b *testing.B) {
	sweeps, shards := 10, 100_000
	if v := os.Getenv("BENCH_SHARDS"); v != "" { // a smaller run for profiling
		fmt.Sscan(v, &shards)
	}
	for range b.N {
		base := liveHeap()
		stop := heapPeak()
		st := state.New()
		fillState(b, st, sweeps, shards)
		fillPeak := stop()
		live := liveHeap() - base

		path := filepath.Join(b.TempDir(), "snapshot")
		stop = heapPeak()
		start := time.Now()
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		c := st.Capture()
		if _, err := c.WriteTo(w); err != nil {
			b.Fatal(err)
		}
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			b.Fatal(err)
		}
		snapTime := time.Since(start)
		snapPeak := stop()
		fi, _ := os.Stat(path)

		// A coordinator restarting from disk holds no state before it.
		c, st = nil, nil
		liveHeap()
		stop = heapPeak()
		start = time.Now()
		f, err = os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := state.New()
		if err := r.Restore(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		restoreTime := time.Since(start)
		restorePeak := stop()
		if sw, _ := r.Sweep("sweep-09"); sw.GetProgress().GetDone() != int64(shards) {
			b.Fatalf("restored sweep %v", sw)
		}
		runtime.KeepAlive(r)
		const mb = 1 << 20
		b.ReportMetric(float64(live)/mb, "live-MB")
		b.ReportMetric(float64(fillPeak)/mb, "fill-peak-MB")
		b.ReportMetric(float64(snapPeak)/mb, "snapshot-peak-MB")
		b.ReportMetric(float64(restorePeak)/mb, "restore-peak-MB")
		b.ReportMetric(float64(fi.Size())/mb, "snapshot-MB")
		b.ReportMetric(snapTime.Seconds(), "snapshot-s")
		b.ReportMetric(restoreTime.Seconds(), "restore-s")
	}
}
