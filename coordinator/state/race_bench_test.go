package state

import (
	"testing"
	"time"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// studyGrid is the read-noise-free study grid's shape: 6 gamma x 31
// settings, 3 trials, 10,000 images in 100-image shards (55,800 shards).
const studyGrid = `
model: {path: m}
dataset: {kind: mnist}
grid:
  gamma: [0, 1, 2, 3, 4, 5]
  clip_product: {include_off: true, alpha: [1, 1.5, 2, 3, 4], beta: [1, 0.75, 0.5, 0.375, 0.25, 0.125]}
images_per_shard: 100
trials: 3
`

// BenchmarkApplyStudyGrid applies a whole sweep of the study grid's shape,
// 64 leases per AssignShards and their results in one CompleteShards, as a
// full grid and as a race (rounds of 500 images), and reports the
// completions the state machine applies per second, Pick included.
func BenchmarkApplyStudyGrid(b *testing.B) {
	for _, c := range []struct{ name, extra string }{{"full", ""}, {"race", "race: {block: 500}\n"}} {
		b.Run(c.name, func(b *testing.B) {
			spec, err := sweep.Parse("s.yaml", []byte(studyGrid+c.extra))
			if err != nil {
				b.Fatal(err)
			}
			l, _ := sweep.NewLayout(spec)
			slots := make([]string, 64)
			for i := range slots {
				slots[i] = "w"
			}
			var completions int
			var busy time.Duration
			for b.Loop() {
				s := New()
				s.Apply(cmd(1, &cfpb.SubmitSweep{SweepId: "s", Spec: spec}))
				for now := int64(2); ; now++ {
					start := time.Now()
					granted := s.Apply(cmd(now, &cfpb.AssignShards{Assignments: s.Pick(now, slots)})).Granted
					busy += time.Since(start)
					if len(granted) == 0 {
						break
					}
					results := make([]*cfpb.ShardResult, len(granted))
					for i, lr := range granted {
						results[i] = &cfpb.ShardResult{SweepId: "s", Shard: lr.Shard, LeaseId: lr.LeaseId, Attempt: lr.Attempt,
							Worker: "w", Summary: synthetic(l, int(lr.Shard))}
					}
					start = time.Now()
					completions += s.Apply(cmd(now, &cfpb.CompleteShards{Results: results})).Completed
					busy += time.Since(start)
				}
			}
			b.ReportMetric(float64(completions)/busy.Seconds(), "completions/s")
			b.ReportMetric(float64(completions)/float64(b.N), "shards/sweep")
		})
	}
}
