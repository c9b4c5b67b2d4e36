package sweep

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clipformer/clipformer/internal/tally"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Tally turns a shard summary into the arithmetic's form.
func Tally(s *cfpb.Summary) tally.Summary {
	t := tally.Summary{Images: s.GetImages(), Correct: s.GetCorrect()}
	for _, v := range s.GetSignal() {
		t.Signal = append(t.Signal, tally.Sum{Hi: v.GetHi(), Lo: v.GetLo()})
	}
	for _, v := range s.GetNoise() {
		t.Noise = append(t.Noise, tally.Sum{Hi: v.GetHi(), Lo: v.GetLo()})
	}
	return t
}

// SummaryOf turns a tally back into a shard summary.
func SummaryOf(t tally.Summary) *cfpb.Summary {
	s := &cfpb.Summary{Images: t.Images, Correct: t.Correct}
	for _, v := range t.Signal {
		s.Signal = append(s.Signal, &cfpb.Sum128{Hi: v.Hi, Lo: v.Lo})
	}
	for _, v := range t.Noise {
		s.Noise = append(s.Noise, &cfpb.Sum128{Hi: v.Hi, Lo: v.Lo})
	}
	return s
}

// Merge adds b into a; both are exact, so the order never matters. The
// result names the calibration sets of both (MergeCalibration).
func Merge(a, b *cfpb.Summary) *cfpb.Summary {
	t := Tally(a)
	t.Merge(Tally(b))
	s := SummaryOf(t)
	s.Calibration = MergeCalibration(a.GetCalibration(), b.GetCalibration())
	return s
}

// MergeCalibration names the calibration sets of two merged summaries: the
// one set when they agree or one has none, else both, separated by "; ".
// The shards of one point calibrate on the same images; workers that did
// not (different files under one path) show so in the results.
func MergeCalibration(a, b string) string {
	switch {
	case b == "" || a == b:
		return a
	case a == "":
		return b
	case slices.Contains(strings.Split(a, "; "), b):
		return a
	}
	return a + "; " + b
}

// Aggregate merges per-shard outcomes into one result per grid point, in grid
// order. state and summary describe shard k; summary is nil unless done.
func Aggregate(l *Layout, state func(k int) cfpb.ShardState, summary func(k int) *cfpb.Summary) []*cfpb.PointResult {
	out := make([]*cfpb.PointResult, len(l.Points))
	merged := make([][]tally.Summary, len(l.Points))
	calib := make([][]string, len(l.Points))
	doneChunks := make([][]int, len(l.Points))
	for i, p := range l.Points {
		out[i] = &cfpb.PointResult{Point: p, ShardsTotal: int32(l.Trials * l.Chunks)}
		merged[i] = make([]tally.Summary, l.Trials)
		calib[i] = make([]string, l.Trials)
		doneChunks[i] = make([]int, l.Trials)
	}
	for k := 0; k < l.Shards(); k++ {
		w := l.Shard("", k)
		pi, t := int(w.Point.Index), int(w.Trial)
		switch state(k) {
		case cfpb.ShardState_SHARD_STATE_DONE:
			out[pi].ShardsDone++
			doneChunks[pi][t]++
			sum := summary(k)
			merged[pi][t].Merge(Tally(sum))
			calib[pi][t] = MergeCalibration(calib[pi][t], sum.GetCalibration())
		case cfpb.ShardState_SHARD_STATE_FAILED:
			out[pi].ShardsFailed++
		}
	}
	for i := range out {
		for t, r := range merged[i] {
			s := SummaryOf(r)
			s.Calibration = calib[i][t]
			out[i].Trials = append(out[i].Trials, s)
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
