package paired

import (
	"fmt"
	"strings"
	"testing"
)

// wrongOutcome says whether a race broke the AgainstTheBest guarantee for
// the truth given: it dropped a truly best setting (one whose true
// accuracy is the highest), or it ended tied within the margin with a
// winner more than the margin below one.
func wrongOutcome(res RaceResult, truth []float64, margin float64) bool {
	top := truth[0]
	for _, v := range truth {
		top = max(top, v)
	}
	for i, s := range res.Settings {
		if truth[i] == top && s.Status == Dropped {
			return true
		}
	}
	// truth is in accuracy fractions, the margin in points.
	return res.Stop == WithinMargin && 100*(top-truth[res.Best]) > margin
}

// The less conservative race: against the best, given the trials' draws,
// alpha spent over the known rounds, even or doubling rounds, a
// one-sided margin. Its guarantee: with probability at least 1 - alpha the
// truly best setting given the draws is never dropped and a tie within the
// margin names a winner within the margin of it. 2,000 seeded races of 4
// near-tied settings and one 3 points worse, 3 trials whose write noise
// helps each setting differently (so which one is truly best given the
// draws changes from seed to seed, by about a tenth of a point), 20 blocks
// of 100 images. At confidence 0.75
// the races that break it must not exceed Binomial(2000, 0.25)'s 1e-4
// upper bound (574). A race that tests every round at the nominal level
// breaks it in most races (measured in docs/STATISTICS.md).
func TestRaceGivenDrawsHoldsItsGuaranteeAgainstTheBest(t *testing.T) {
	const reps = 2000
	w := world{blocks: 20, trials: 3, images: 100, shared: 0.8, trialShift: 0.01, interaction: 0.002,
		delta: []float64{0, 0, 0, 0, -0.03}}
	order := BlockMajor(w.blocks, w.trials)
	base := RaceConfig{Confidence: 0.75, UnitsPerRound: 3 * w.trials, Family: AgainstTheBest, Draws: GivenDraws}
	const margin = 1.0
	variants := map[string]func(RaceConfig) RaceConfig{
		"by round":         func(c RaceConfig) RaceConfig { return c },
		"over max rounds":  func(c RaceConfig) RaceConfig { c.Spending = OverMaxRounds; return c },
		"doubling rounds":  func(c RaceConfig) RaceConfig { c.Spending, c.Growth = OverMaxRounds, 2; return c },
		"one unit a round": func(c RaceConfig) RaceConfig { c.Spending, c.UnitsPerRound = OverMaxRounds, w.trials; return c },
		"one-sided margin": func(c RaceConfig) RaceConfig {
			c.Spending, c.Margin, c.MarginRule = OverMaxRounds, margin, NoneBetter
			return c
		},
		"both-sided margin": func(c RaceConfig) RaceConfig { c.Spending, c.Margin = OverMaxRounds, margin; return c },
	}
	wrong, drops, ties := map[string]int{}, map[string]int{}, map[string]int{}
	for rep := 0; rep < reps; rep++ {
		settings, truth := w.drawGiven(uint64(rep))
		for name, v := range variants {
			res, err := Race(v(base), order, settings)
			if err != nil {
				t.Fatal(err)
			}
			if wrongOutcome(res, truth, margin) {
				wrong[name]++
			}
			drops[name] += countStatus(res, Dropped)
			if res.Stop == WithinMargin {
				ties[name]++
			}
		}
	}
	bound := binomialUpper(reps, 1-base.Confidence)
	for name := range variants {
		t.Logf("%s: %d of %d races broke the guarantee (nominal %d, bound %d); %d drops, %d ended tied",
			name, wrong[name], reps, reps/4, bound, drops[name], ties[name])
		if wrong[name] > bound {
			t.Errorf("%s: %d of %d races dropped the truly best or tied with a winner beyond the margin; over %d, the bound of a rate of 0.25",
				name, wrong[name], reps, bound)
		}
		// The test has power only if the races decide: they must drop
		// (and tie, with a margin), or a race that never decides would pass.
		if drops[name] < reps/2 || strings.Contains(name, "margin") && ties[name] < reps/10 {
			t.Errorf("%s: %d drops and %d ties in %d races: the race decided too little for the count to mean anything",
				name, drops[name], ties[name], reps)
		}
	}
}

// Given the draws is a different truth from over the draws: with settings
// equal over the draws but helped differently by each trial's write noise,
// the race over the draws (two-way clusters) keeps its all-pairs guarantee
// (any drop is wrong), at confidence 0.75 and 0.95.
func TestRaceOverDrawsHoldsAllPairsWithTrialInteraction(t *testing.T) {
	const reps = 2000
	w := world{blocks: 20, trials: 3, images: 100, shared: 0.8, trialShift: 0.01, interaction: 0.005, delta: make([]float64, 5)}
	order := BlockMajor(w.blocks, w.trials)
	for _, conf := range []float64{0.75, 0.95} {
		for _, spending := range []Spending{ByRound, OverMaxRounds} {
			cfg := RaceConfig{Confidence: conf, UnitsPerRound: 2 * w.trials, Spending: spending}
			races := 0
			for rep := 0; rep < reps; rep++ {
				res, err := Race(cfg, order, w.draw(uint64(rep)))
				if err != nil {
					t.Fatal(err)
				}
				if countStatus(res, Dropped) > 0 {
					races++
				}
			}
			name := fmt.Sprintf("confidence %v, spending %d", conf, spending)
			bound := binomialUpper(reps, 1-conf)
			t.Logf("%s: %d of %d races dropped a setting equal over the draws (bound %d)", name, races, reps, bound)
			if races > bound {
				t.Errorf("%s: %d of %d races dropped a setting equal over the draws; over %d", name, races, reps, bound)
			}
		}
	}
}

// Given the draws, each block over all its trials is one observation: the
// interval is Gain's over the blocks' sums as if they were one trial, and
// a trial effect on the gain widens the two-way interval but not this one.
func TestGainGivenDrawsClustersByBlocksOnly(t *testing.T) {
	w := world{blocks: 12, trials: 3, images: 100, shared: 0.8, interaction: 0.02, delta: []float64{0, -0.01}}
	s := w.draw(5)
	summed := []Outcomes{{}, {}}
	for i, o := range s {
		for u, c := range o {
			k := Unit{Block: u.Block}
			old := summed[i][k]
			summed[i][k] = Count{Images: old.Images + c.Images, Correct: old.Correct + c.Correct}
		}
	}
	given, err := GainGivenDraws(s[0], s[1], nil, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Gain(summed[0], summed[1], nil, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	want.Units, want.Trials = 36, 3
	if given != want {
		t.Errorf("given the draws %+v; want the blocks' sums' %+v", given, want)
	}
	over, err := Gain(s[0], s[1], nil, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !(over.Half > 2*given.Half) || given.DF != 11 {
		t.Errorf("with a trial effect on the gain: over the draws +-%.2f (df %d), given them +-%.2f (df %d); want the first over twice as wide, df 11 given",
			over.Half, over.DF, given.Half, given.DF)
	}
}
