package paired

import (
	"encoding/csv"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// studyPoint is one grid point of a committed full-grid study: its
// setting and its accuracy in each of the trials.
type studyPoint struct {
	clip     string
	trialAcc []float64 // fractions
}

// readStudy reads a study's results CSV (docs/results) into its points
// by gamma, in the file's order.
func readStudy(t *testing.T, path string) (gammas []string, points map[string][]studyPoint) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("%s: %v", path, err)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	points = map[string][]studyPoint{}
	for _, r := range recs[1:] {
		p := studyPoint{clip: r[col["clip"]]}
		for _, s := range strings.Fields(r[col["per_trial_accuracy"]]) {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: per_trial_accuracy %q: %v", path, s, err)
			}
			p.trialAcc = append(p.trialAcc, v/100)
		}
		g := r[col["gamma"]]
		if _, ok := points[g]; !ok {
			gammas = append(gammas, g)
		}
		points[g] = append(points[g], p)
	}
	return gammas, points
}

// studyWorld draws a full grid like the study's: 100 blocks of 100 images,
// each point with its committed per-trial accuracy. Every image has a
// difficulty draw per trial that the settings share with probability
// shared (otherwise their own): the pairing of settings that saw the same
// image and the same write noise.
func studyWorld(points []studyPoint, seed uint64, shared float64) []Outcomes {
	r := rand.New(rand.NewPCG(seed, 9))
	out := make([]Outcomes, len(points))
	for i := range out {
		out[i] = Outcomes{}
	}
	c := make([]int64, len(points))
	for tr := range points[0].trialAcc {
		for b := 0; b < 100; b++ {
			clear(c)
			for i := 0; i < 100; i++ {
				u := r.Float64()
				for s, p := range points {
					v := u
					if r.Float64() >= shared {
						v = r.Float64()
					}
					if v < p.trialAcc[tr] {
						c[s]++
					}
				}
			}
			for s := range points {
				out[s][Unit{Block: b, Trial: tr}] = Count{Images: 100, Correct: c[s]}
			}
		}
	}
	return out
}

// The target on full grids drawn like the committed studies (both
// bundled models, gamma 0..5, off and 30 alpha x beta settings, 10,000
// images, 3 trials, each point at its committed per-trial accuracies):
// the race the docs recommend (against the best, given the draws, alpha
// over the known rounds, rounds of 500 images, a one-sided 0.25-point margin,
// a budget of 20 % of the grid) uses at most 20 % of the evaluations, and
// its winner is the drawn grid's best or tied with it under the grid's
// own paired interval. 3 seeds per gamma.
func TestRaceMeetsTheStudyTargetOnDrawnStudies(t *testing.T) {
	for _, path := range []string{"../../docs/results/study-fashion-mnist-sigma-r0.csv", "../../docs/results/study-mnist-sigma-r0.csv"} {
		gammas, points := readStudy(t, path)
		for _, g := range gammas {
			pts := points[g]
			full := int64(len(pts) * 100 * 100 * len(pts[0].trialAcc))
			cfg := RaceConfig{Confidence: 0.95, UnitsPerRound: 5 * len(pts[0].trialAcc), Family: AgainstTheBest, Draws: GivenDraws,
				Spending: OverMaxRounds, Margin: 0.25, MarginRule: NoneBetter, MaxEvaluations: full / 5, UnitImages: 100}
			for seed := uint64(0); seed < 3; seed++ {
				grid := studyWorld(pts, seed, 0.8)
				res, err := Race(cfg, BlockMajor(100, len(pts[0].trialAcc)), grid)
				if err != nil {
					t.Fatal(err)
				}
				best := 0
				for i := range grid {
					if correct(grid[i], nil) > correct(grid[best], nil) {
						best = i
					}
				}
				gap, err := GainGivenDraws(grid[best], grid[res.Best], nil, 0.95)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s gamma %s seed %d: %v after %d rounds, winner %s, grid's best %s, gap %+.2f +- %.2f, saving %.1f %%",
					path, g, seed, res.Stop, res.Rounds, pts[res.Best].clip, pts[best].clip, gap.Estimate, gap.Half,
					100*(1-float64(res.Evaluations)/float64(full)))
				// What the statistics save alone, for the docs: the same race
				// with no budget.
				free := cfg
				free.MaxEvaluations = 0
				if fr, err := Race(free, BlockMajor(100, len(pts[0].trialAcc)), grid); err == nil {
					t.Logf("  without the budget: %v after %d rounds, saving %.1f %%", fr.Stop, fr.Rounds,
						100*(1-float64(fr.Evaluations)/float64(full)))
				}
				if res.Evaluations > full/5 {
					t.Errorf("%s gamma %s seed %d: %d of %d evaluations, over 20 %%", path, g, seed, res.Evaluations, full)
				}
				if gap.Estimate-gap.Half > 0 {
					t.Errorf("%s gamma %s seed %d: winner %s is worse than the grid's best %s: gap %+.2f +- %.2f",
						path, g, seed, pts[res.Best].clip, pts[best].clip, gap.Estimate, gap.Half)
				}
			}
		}
	}
}
