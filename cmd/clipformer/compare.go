package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// compareSweep prints each setting's paired gain over the baseline for a
// cluster sweep. The coordinator serves per-trial aggregates, not
// per-shard results, so the pairs are over trials: with one trial there
// is no paired interval, and the note says so.
func compareSweep(ctx context.Context, stdout, stderr io.Writer, conn *clusterConn, id, baseline string, level float64) error {
	var sw *cfpb.Sweep
	var results []*cfpb.PointResult
	err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
		sw, results, err = fetchResults(ctx, cfpb.NewSweepsClient(conn), id)
		return err
	})
	if err != nil {
		return err
	}
	rows := report.Rows(sw.Id, sw.Spec, results)
	cmp, err := report.Compare(rows, report.TrialOutcomes(sw.Spec, results), baseline, level)
	if err != nil {
		return fmt.Errorf("results %s: %w", id, err)
	}
	fmt.Fprintf(stderr, "paired over complete trials (the coordinator serves per-trial results); for pairs over image blocks run the spec with `clipformer run` and compare with --from\n")
	return report.WriteCompare(stdout, cmp)
}

// raceFlags configure `results --race`.
type raceFlags struct {
	on             bool
	block          int
	margin         float64
	family         string
	draws          string
	spending       string
	marginRule     string
	growth         int
	maxEvaluations int64
	budget         float64
	detail         bool
}

func (r *raceFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&r.on, "race", false, "replay a paired race per gamma on a run's per-shard results (docs/STATISTICS.md): what an adaptive sweep would decide")
	fs.IntVar(&r.block, "race-block", 500, "with --race: images per round, in every trial (a multiple of the run's images per shard)")
	fs.Float64Var(&r.margin, "race-margin", 0, "with --race: stop when the survivors are within this many accuracy points of the best (0: never)")
	fs.StringVar(&r.family, "race-family", paired.RecommendedFamily, "with --race: the error rate covers the best setting's pairs (best) or all pairs (all)")
	fs.StringVar(&r.draws, "race-draws", paired.RecommendedDraws, "with --race: compare accuracies given the trials' noise draws (given: what the full grid estimates) or over the draws (over)")
	fs.StringVar(&r.spending, "race-spending", paired.RecommendedSpending, "with --race: spend alpha evenly over the rounds the data allow (max-rounds) or 1/(r(r+1)) at round r (by-round)")
	fs.StringVar(&r.marginRule, "race-margin-rule", paired.RecommendedMarginRule, "with --race: tie when no survivor is shown better than the best by over the margin (one-sided) or every gap lies within +-margin (both-sided)")
	fs.IntVar(&r.growth, "race-growth", 1, "with --race: each round's images are this many times the last's (1: even rounds of --race-block)")
	fs.Int64Var(&r.maxEvaluations, "race-max-evaluations", 0, "with --race: the budget of image evaluations per group (0: the data set)")
	fs.Float64Var(&r.budget, "race-budget", 0, "with --race: the budget per group as a percentage of the full grid's image evaluations (0: none)")
	fs.BoolVar(&r.detail, "race-detail", false, "with --race: every setting's standing")
}

// raceRun replays a race per group on a `clipformer run` output folder.
func raceRun(stdout io.Writer, dir string, level float64, r raceFlags) error {
	rows, outcomes, err := readRun(dir)
	if err != nil {
		return err
	}
	var unitImages int64
	trials := 0
	for _, o := range outcomes {
		for u, c := range o {
			unitImages, trials = max(unitImages, c.Images), max(trials, u.Trial+1)
		}
	}
	if unitImages == 0 || r.block < 1 || int64(r.block)%unitImages != 0 {
		return fmt.Errorf("results --race: --race-block %d is not a multiple of the run's %d images per shard", r.block, unitImages)
	}
	cfg := paired.RaceConfig{Confidence: level, UnitsPerRound: r.block / int(unitImages) * trials, Margin: r.margin,
		MaxEvaluations: r.maxEvaluations, UnitImages: unitImages, Growth: r.growth}
	if err := r.choose(&cfg); err != nil {
		return err
	}
	if !(r.budget >= 0 && r.budget <= 100) {
		return fmt.Errorf("results --race: --race-budget %v: want a percentage in [0, 100]", r.budget)
	}
	races, err := report.RaceWithin(rows, outcomes, cfg, r.budget/100)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return report.WriteRace(stdout, races, r.detail)
}

// choose sets the race's family, draws, spending and margin rule from
// their flags.
func (r raceFlags) choose(cfg *paired.RaceConfig) error {
	choices := []struct {
		flag, value string
		set         map[string]func()
	}{
		{"race-family", r.family, setters(paired.FamilyNames, &cfg.Family)},
		{"race-draws", r.draws, setters(paired.DrawsNames, &cfg.Draws)},
		{"race-spending", r.spending, setters(paired.SpendingNames, &cfg.Spending)},
		{"race-margin-rule", r.marginRule, setters(paired.MarginRuleNames, &cfg.MarginRule)},
	}
	for _, c := range choices {
		set, ok := c.set[c.value]
		if !ok {
			names := make([]string, 0, len(c.set))
			for n := range c.set {
				names = append(names, n)
			}
			slices.Sort(names)
			return fmt.Errorf("results --race: --%s %q: want one of %s", c.flag, c.value, strings.Join(names, ", "))
		}
		set()
	}
	return nil
}

// setters maps each option name to a function that sets field to its value.
func setters[T any](names map[string]T, field *T) map[string]func() {
	out := make(map[string]func(), len(names))
	for n, v := range names {
		out[n] = func() { *field = v }
	}
	return out
}

// readRun reads a `clipformer run` output folder's rows and per-shard
// outcomes.
func readRun(dir string) ([]report.Row, map[int]paired.Outcomes, error) {
	rowsPath, shardsPath := filepath.Join(dir, "results.csv"), filepath.Join(dir, "shards.csv")
	f, err := os.Open(rowsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("results --from: %w", err)
	}
	defer f.Close()
	rows, err := report.ReadCSV(f, rowsPath)
	if err != nil {
		return nil, nil, err
	}
	g, err := os.Open(shardsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("results --from: %w (runs before per-shard results were written have none: run the spec again)", err)
	}
	defer g.Close()
	outcomes, err := report.ReadShards(g, shardsPath)
	if err != nil {
		return nil, nil, err
	}
	return rows, outcomes, nil
}

// compareRun prints the paired gains of a `clipformer run` output folder,
// over its per-shard results (image blocks and trials).
func compareRun(stdout io.Writer, dir, baseline string, level float64) error {
	rows, outcomes, err := readRun(dir)
	if err != nil {
		return err
	}
	cmp, err := report.Compare(rows, outcomes, baseline, level)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return report.WriteCompare(stdout, cmp)
}
