package coordinator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/clipformer/clipformer/coordinator"
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
