package ui

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// bigSpec is 60 grid points (gamma 0..5 by off and 9 (alpha, beta)) x 5
// trials x 334 shards of 30 images: 100,200 shards.
const bigSpec = `name: benchmark
model: {path: m}
dataset: {kind: folder, path: x, limit: 10000}
grid:
  gamma: [0, 1, 2, 3, 4, 5]
  clip_product: {alpha: [1, 2, 4], beta: [0.25, 0.5, 1], include_off: true}
trials: 5
images_per_shard: 30
`

// BenchmarkSweepPage100kShards renders the page of one sweep of 100,200
// shards, 90 % done and 5 % leased, each done shard with a 4-block
// summary: aggregation of every shard's result, the plots, the table and
// the shard map's counts, as one GET. The shard map's image is a second
// request (BenchmarkShardMap100kShards).
func BenchmarkSweepPage100kShards(b *testing.B) {
	h, id := bigSweep(b)
	get(b, h, "/sweeps/"+id)
}

// get times GET path, reporting besides wall time the process's CPU time
// per request (user and system, garbage collection included): on a busy
// machine the wall time also counts waiting for a core.
func get(b *testing.B, h http.Handler, path string) {
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1"+path, nil))
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkShardMap100kShards draws the same sweep's shard map (PNG).
func BenchmarkShardMap100kShards(b *testing.B) {
	h, id := bigSweep(b)
	get(b, h, "/sweeps/"+id+"/shards.png")
}

// BenchmarkSweepsPage100kShards renders the sweeps list with that sweep.
func BenchmarkSweepsPage100kShards(b *testing.B) {
	h, _ := bigSweep(b)
	get(b, h, "/")
}

func bigSweep(b *testing.B) (http.Handler, string) {
	src := newStateSource()
	spec := mustSpec(b, bigSpec)
	id := src.submit(b, "big", spec, 90_180, 5_010)
	s, err := New(Config{Addr: "127.0.0.1:0", Source: src})
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler(), id
}
