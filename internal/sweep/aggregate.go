package sweep

import (
	"fmt"

	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
)

// Summarize turns a simulator result into a shard summary.
func Summarize(r *sim.Result) *cfpb.Summary {
	s := &cfpb.Summary{Images: int64(r.Images), Correct: int64(r.Correct)}
	for i := range r.Signal {
		s.Signal = append(s.Signal, &cfpb.Sum128{Hi: r.Signal[i].Hi, Lo: r.Signal[i].Lo})
		s.Noise = append(s.Noise, &cfpb.Sum128{Hi: r.Noise[i].Hi, Lo: r.Noise[i].Lo})
	}
	return s
}

// Result turns a summary back into a simulator result (without predictions).
func Result(s *cfpb.Summary) *sim.Result {
	r := &sim.Result{Images: int(s.GetImages()), Correct: int(s.GetCorrect())}
	for i := range s.GetSignal() {
		r.Signal = append(r.Signal, sim.ExactSum{Hi: s.Signal[i].GetHi(), Lo: s.Signal[i].GetLo()})
		r.Noise = append(r.Noise, sim.ExactSum{Hi: s.Noise[i].GetHi(), Lo: s.Noise[i].GetLo()})
	}
	return r
}

// Merge adds b into a; both are exact, so the order never matters.
func Merge(a, b *cfpb.Summary) *cfpb.Summary {
	r := Result(a)
	r.Merge(Result(b))
	return Summarize(r)
}

// Aggregate merges per-shard outcomes into one result per grid point, in grid
// order. state and summary describe shard k; summary is nil unless done.
func Aggregate(l *Layout, state func(k int) cfpb.ShardState, summary func(k int) *cfpb.Summary) []*cfpb.PointResult {
	out := make([]*cfpb.PointResult, len(l.Points))
	merged := make([][]*sim.Result, len(l.Points))
	doneChunks := make([][]int, len(l.Points))
	for i, p := range l.Points {
		out[i] = &cfpb.PointResult{Point: p, ShardsTotal: int32(l.Trials * l.Chunks)}
		merged[i] = make([]*sim.Result, l.Trials)
		doneChunks[i] = make([]int, l.Trials)
		for t := range merged[i] {
			merged[i][t] = &sim.Result{}
		}
	}
	for k := 0; k < l.Shards(); k++ {
		w := l.Shard("", k)
		pi, t := int(w.Point.Index), int(w.Trial)
		switch state(k) {
		case cfpb.ShardState_SHARD_STATE_DONE:
			out[pi].ShardsDone++
			doneChunks[pi][t]++
			merged[pi][t].Merge(Result(summary(k)))
		case cfpb.ShardState_SHARD_STATE_FAILED:
			out[pi].ShardsFailed++
		}
	}
	for i := range out {
		for t, r := range merged[i] {
			out[i].Trials = append(out[i].Trials, Summarize(r))
			if doneChunks[i][t] == l.Chunks {
				out[i].CompleteTrials++
			}
		}
	}
	return out
}

// CheckSummary reports what is wrong with a shard summary that claims to
// cover want images; a malformed one must never reach Merge.
func CheckSummary(s *cfpb.Summary, want int) error {
	switch {
	case s == nil:
		return fmt.Errorf("no summary")
	case s.Images != int64(want):
		return fmt.Errorf("summary covers %d images; the shard has %d", s.Images, want)
	case s.Correct < 0 || s.Correct > s.Images:
		return fmt.Errorf("summary counts %d correct of %d images", s.Correct, s.Images)
	case len(s.Signal) != len(s.Noise):
		return fmt.Errorf("summary has %d signal sums but %d noise sums", len(s.Signal), len(s.Noise))
	}
	return nil
}
