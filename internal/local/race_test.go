package local

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// raceGrid is two groups of seven settings on 2,000 images in 100-image
// shards, 2 trials.
const raceGrid = `
model: {path: m}
dataset: {kind: mnist, limit: 2000}
grid:
  gamma: [0, 4]
  clip_product: {include_off: true, alpha: [2, 3], beta: [0.125, 0.25, 0.5]}
images_per_shard: 100
trials: 2
`

// fakeEval is a deterministic evaluator keyed on the shard's point, trial
// and images: against off, beta 0.125 is 25 points worse, beta 0.5 8
// points; a block difficulty and a little per-shard noise on top.
func fakeEval(_ context.Context, _ *cfpb.SweepSpec, w *cfpb.ShardWork, _ func(int)) (*cfpb.Summary, error) {
	acc := 0.80
	switch c := w.Point.Clip; {
	case c.Off:
	case c.Beta == 0.125:
		acc -= 0.25
	case c.Beta == 0.5:
		acc -= 0.08
	}
	h := fnv.New64a()
	fmt.Fprint(h, w.Point.Index, w.Trial, w.Start)
	acc += float64(h.Sum64()%1000)/1000*0.06 - 0.03 + float64(w.Start/100%5)*0.02 - 0.04
	return &cfpb.Summary{Images: int64(w.Count), Correct: int64(acc * float64(w.Count))}, nil
}

// runShards runs spec locally and returns its results and every done
// shard's summary.
func runShards(t *testing.T, spec *cfpb.SweepSpec, opt Options) (*cfpb.Sweep, []*cfpb.PointResult, map[int]*cfpb.Summary) {
	t.Helper()
	shards := map[int]*cfpb.Summary{}
	opt.Workers, opt.Shard = 3, func(k int, s *cfpb.Summary, _ bool) { shards[k] = proto.Clone(s).(*cfpb.Summary) }
	sw, res, err := Run(context.Background(), spec, opt)
	if err != nil {
		t.Fatal(err)
	}
	return sw, res, shards
}

// A race run through the coordinator and its workers ends with the
// decisions that `clipformer results --race --from` replays on the full
// grid of the same spec (report.RaceWithin with the command's rule), having
// evaluated part of it: the recommended race, and the race as first built
// under a budget share.
func TestLocalRaceDecidesAsTheReplayOnTheFullGrid(t *testing.T) {
	full, err := sweep.Parse("full.yaml", []byte(raceGrid))
	if err != nil {
		t.Fatal(err)
	}
	fsw, fres, fshards := runShards(t, full, Options{Run: fakeEval})
	l, _ := sweep.NewLayout(full)
	outcomes := map[int]paired.Outcomes{}
	for k, s := range fshards {
		row := report.ShardOf(l, k, s, false)
		if outcomes[row.Point] == nil {
			outcomes[row.Point] = paired.Outcomes{}
		}
		outcomes[row.Point][paired.Unit{Block: row.Block, Trial: row.Trial}] = paired.Count{Images: row.Images, Correct: row.Correct}
	}
	for _, c := range []struct {
		race  string
		cfg   paired.RaceConfig // what the results flags build
		share float64
	}{
		// `results --race --race-block 200 --race-margin 3`
		{"race: {block: 200, margin: 3}\n", paired.RaceConfig{Confidence: 0.95, UnitsPerRound: 200 / 100 * 2, Margin: 3,
			UnitImages: 100, Family: paired.AgainstTheBest, Draws: paired.GivenDraws, Spending: paired.OverMaxRounds,
			MarginRule: paired.NoneBetter}, 0},
		// `... --race-family all --race-draws over --race-spending by-round
		// --race-margin-rule both-sided --race-budget 30`
		{"race: {block: 200, margin: 3, budget: 30, family: all, draws: over, spending: by-round, margin_rule: both-sided}\n",
			paired.RaceConfig{Confidence: 0.95, UnitsPerRound: 200 / 100 * 2, Margin: 3, UnitImages: 100}, 0.3},
	} {
		race, err := sweep.Parse("race.yaml", []byte(raceGrid+c.race))
		if err != nil {
			t.Fatal(err)
		}
		sw, got, _ := runShards(t, race, Options{Run: fakeEval})
		races, err := report.RaceWithin(report.Rows(fsw.Id, full, fres), outcomes, c.cfg, c.share)
		if err != nil {
			t.Fatal(err)
		}
		if len(races) != 2 {
			t.Fatalf("%d groups replayed, want 2", len(races))
		}
		dropped := 0
		for _, rr := range races {
			for i, st := range rr.Result.Settings {
				d := got[rr.Settings[i].Point].Decision
				if d.GetStatus() != st.Status.String() || d.Round != int32(st.Round) || d.Gain != st.Gain.Estimate || d.PValue != st.P {
					t.Errorf("%sgamma %g, %s: the race run decided %v, the replay on the full grid %+v", c.race, rr.Group.Gamma,
						rr.Settings[i].Clip, d, st)
				}
				if st.Status == paired.Dropped {
					dropped++
				}
			}
		}
		if dropped == 0 {
			t.Errorf("%sthe replay dropped no setting: the test races nothing", c.race)
		}
		if sw.Progress.ImagesDone >= fsw.Progress.ImagesDone*3/4 || sw.Adaptive.GetDecided() != 2 {
			t.Errorf("%sthe race evaluated %d images of the full grid's %d, decided %d of 2 groups", c.race, sw.Progress.ImagesDone,
				fsw.Progress.ImagesDone, sw.Adaptive.GetDecided())
		}
	}
}

// A shard of an adaptive sweep has the same bits as the same shard of the
// full grid, through the real simulator: the race and the precision target
// choose which shards run, never what one computes.
func TestAnAdaptiveSweepsShardIsTheFullGridsShard(t *testing.T) {
	model := simtest.RGBModel(t, 2, 3)
	imgs := filepath.Join(t.TempDir(), "imgs")
	simtest.ImageFolder(t, imgs, 2, 4, 0)
	grid := "model: {path: " + model + "}\ndataset: {kind: folder, path: " + imgs + ", limit: 8}\n" +
		"grid: {gamma: [2], clip: [off, {alpha: 2, beta: 0.25}, {alpha: 3, beta: 0.5}]}\nimages_per_shard: 2\ntrials: 2\n"
	full, err := sweep.Parse("full.yaml", []byte(grid))
	if err != nil {
		t.Fatal(err)
	}
	_, _, want := runShards(t, full, Options{})
	for _, extra := range []string{"race: {block: 2, max_evaluations: 30}\n", "adaptive: {halfwidth: 40}\n"} {
		spec, err := sweep.Parse("a.yaml", []byte(grid+extra))
		if err != nil {
			t.Fatal(err)
		}
		sw, _, got := runShards(t, spec, Options{})
		if len(got) == 0 || len(got) >= len(want) {
			t.Errorf("%s: %d shards done of the full grid's %d: want some, not all", extra, len(got), len(want))
		}
		for k, s := range got {
			if len(s.Signal) == 0 || !proto.Equal(s, want[k]) {
				t.Errorf("%s: shard %d is %v, in the full grid %v", extra, k, s, want[k])
			}
		}
		if sw.Adaptive.GetDecided() != sw.Adaptive.GetGroups() {
			t.Errorf("%s: ended with %v: want every group decided", extra, sw.Adaptive)
		}
	}
}
