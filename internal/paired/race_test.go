package paired

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// binomialUpper is a bound that Binomial(n, p) exceeds with probability
// under 1e-4 (normal approximation, 3.72 standard deviations, plus one for
// the discreteness): a count above it refutes a true rate of p.
func binomialUpper(n int, p float64) int {
	mean := float64(n) * p
	return int(math.Ceil(mean + 3.72*math.Sqrt(mean*(1-p)) + 1))
}

// The race's guarantee: among settings of equal true accuracy, any drop is
// a wrong one. 2,000 seeded races of 5 equal settings, 10 rounds each of
// two 100-image blocks. With all pairs as the family, the share of races
// with a drop stays at or under alpha = 1 - confidence; against the best,
// every setting is a best, so each one's own drop rate does. Each count
// must not exceed Binomial(2000, alpha)'s 1e-4 upper bound.
func TestRaceFalseDropRateIsAtMostAlpha(t *testing.T) {
	const reps = 2000
	w := world{blocks: 20, trials: 1, images: 100, shared: 0.8, delta: make([]float64, 5)}
	order := TrialMajor(w.blocks, w.trials)
	cfgs := []RaceConfig{
		{Confidence: 0.95, UnitsPerRound: 2},
		{Confidence: 0.75, UnitsPerRound: 2},
		{Confidence: 0.75, UnitsPerRound: 2, Family: AgainstTheBest},
	}
	races := make([]int, len(cfgs))         // races with any drop
	perSetting := make([]int, len(w.delta)) // drops of each setting, against the best
	for rep := 0; rep < reps; rep++ {
		settings := w.draw(uint64(rep))
		for c, cfg := range cfgs {
			res, err := Race(cfg, order, settings)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Survivors) > 0 || res.Stop == Running {
				t.Fatalf("rep %d: the race waits for units it has: %+v", rep, res)
			}
			if countStatus(res, Dropped) > 0 {
				races[c]++
			}
			for i, s := range res.Settings {
				if cfg.Family == AgainstTheBest && s.Status == Dropped {
					perSetting[i]++
				}
			}
		}
	}
	for c, cfg := range cfgs[:2] {
		alpha := 1 - cfg.Confidence
		t.Logf("all pairs, confidence %v: %d of %d races dropped a setting of equal accuracy (alpha %.2f)", cfg.Confidence, races[c], reps, alpha)
		if bound := binomialUpper(reps, alpha); races[c] > bound {
			t.Errorf("confidence %v: %d of %d races dropped a setting of equal accuracy; over %d, the bound of a true rate of %.2f",
				cfg.Confidence, races[c], reps, bound, alpha)
		}
	}
	t.Logf("against the best, confidence 0.75: drops per setting %v of %d races; %d races with any drop", perSetting, reps, races[2])
	bound := binomialUpper(reps, 0.25)
	for i, d := range perSetting {
		if d > bound {
			t.Errorf("against the best: setting %d of 5 equal ones dropped in %d of %d races; over %d, the bound of a rate of 0.25", i, d, reps, bound)
		}
	}
	// Its levels are K/2 = 2.5 times all pairs': it must drop more.
	if races[2] <= races[1] {
		t.Errorf("against the best: %d races with a drop, all pairs %d; the family's larger levels did not apply", races[2], races[1])
	}
}

// Power: a setting 12 points worse is dropped within the first three
// rounds, one 3 points worse by the end, and the best is never dropped.
func TestRaceDropsAClearlyWorseSettingEarly(t *testing.T) {
	w := world{blocks: 40, trials: 1, images: 100, shared: 0.8, delta: []float64{0, -0.12, -0.03, 0}}
	order := TrialMajor(w.blocks, w.trials)
	for seed := uint64(0); seed < 20; seed++ {
		res, err := Race(RaceConfig{Confidence: 0.95, UnitsPerRound: 5}, order, w.draw(seed))
		if err != nil {
			t.Fatal(err)
		}
		bad, worse := res.Settings[1], res.Settings[2]
		if bad.Status != Dropped || bad.Round > 3 {
			t.Errorf("seed %d: the 12-points-worse setting is %v at round %d; want dropped by round 3", seed, bad.Status, bad.Round)
		}
		if worse.Status != Dropped {
			t.Errorf("seed %d: the 3-points-worse setting is %v after %d rounds; want dropped", seed, worse.Status, res.Rounds)
		}
		if bad.Status == Dropped && !(bad.Gain.Estimate > 0 && bad.P <= bad.Alpha && bad.Gain.Estimate-bad.Gain.Half > 0) {
			t.Errorf("seed %d: dropped with gain %+v, p %g at level %g; want a significant positive gain", seed, bad.Gain, bad.P, bad.Alpha)
		}
		for _, i := range []int{0, 3} {
			if res.Settings[i].Status == Dropped {
				t.Errorf("seed %d: a best setting (%d) was dropped: %+v", seed, i, res.Settings[i])
			}
		}
	}
}

// Settings of equal accuracy within a margin of 3 points end the race
// tied once the gaps' intervals fit inside it, before the units run out.
func TestRaceStopsWhenSurvivorsAreTiedWithinTheMargin(t *testing.T) {
	w := world{blocks: 60, trials: 1, images: 100, shared: 0.9, delta: []float64{0, 0, 0.005}}
	res, err := Race(RaceConfig{Confidence: 0.95, UnitsPerRound: 4, Margin: 3}, TrialMajor(w.blocks, w.trials), w.draw(7))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != WithinMargin || res.Rounds >= 15 {
		t.Fatalf("stop %v after %d of 15 rounds; want tied within the margin before the end", res.Stop, res.Rounds)
	}
	wins := 0
	for i, s := range res.Settings {
		switch s.Status {
		case Winner:
			wins++
		case Tied:
			if math.Abs(s.Gain.Estimate)+s.Gain.Half > 3 {
				t.Errorf("setting %d tied with a gap interval %+v outside the margin", i, s.Gain)
			}
		default:
			t.Errorf("setting %d: %v; want winner or tied", i, s.Status)
		}
	}
	if wins != 1 {
		t.Errorf("%d winners", wins)
	}
}

// Determinism: the race run the way a coordinator would, on the shards it
// asks for as they arrive in a random order, takes exactly the decisions
// (bit for bit) of the race given the full grid at once, whatever that
// order; and the outcomes of dropped settings or of later rounds change
// nothing.
func TestRaceDecisionsDependOnlyOnTheCommittedOutcomes(t *testing.T) {
	w := world{blocks: 30, trials: 2, images: 50, shared: 0.8, delta: []float64{0, -0.05, -0.01, -0.2, 0}}
	cfg := RaceConfig{Confidence: 0.9, UnitsPerRound: 4, Margin: 1}
	order := BlockMajor(w.blocks, w.trials)
	if order[1] != (Unit{Block: 0, Trial: 1}) || len(order) != 60 {
		t.Fatalf("BlockMajor(30, 2) starts %v with %d units; want block 0 in both trials first, 60 in all", order[:2], len(order))
	}
	full := w.draw(3)
	// The race as first built, and the recommended one with doubling rounds.
	recommended := RaceConfig{Confidence: 0.9, UnitsPerRound: 4, Margin: 1, Family: AgainstTheBest, Draws: GivenDraws,
		Spending: OverMaxRounds, Growth: 2, MarginRule: NoneBetter}
	for _, cfg := range []RaceConfig{cfg, recommended} {
		want, err := Race(cfg, order, full)
		if err != nil {
			t.Fatal(err)
		}
		if want.Stop == Running || countStatus(want, Dropped) == 0 {
			t.Fatalf("%+v: the full-grid race should end with drops: %+v", cfg, want)
		}
		for seed := uint64(0); seed < 5; seed++ {
			got := raceAsItArrives(t, cfg, order, full, rand.New(rand.NewPCG(seed, 1)))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%+v, arrival order %d: %+v\nfull grid: %+v", cfg, seed, got, want)
			}
		}
	}
}

// raceAsItArrives feeds the race only the units it asks for, each round's
// shards in a random order, re-running it after every arrival as a state
// machine would after every commit.
func raceAsItArrives(t *testing.T, cfg RaceConfig, order []Unit, full []Outcomes, r *rand.Rand) RaceResult {
	t.Helper()
	held := make([]Outcomes, len(full))
	for i := range held {
		held[i] = Outcomes{}
	}
	for {
		res, err := Race(cfg, order, held)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != Running {
			return res
		}
		type shard struct {
			s int
			u Unit
		}
		var pending []shard
		for _, s := range res.Survivors {
			for _, u := range res.Next {
				if _, ok := held[s][u]; !ok {
					pending = append(pending, shard{s, u})
				}
			}
		}
		if len(pending) == 0 {
			t.Fatalf("the race waits with nothing to ask for: %+v", res)
		}
		r.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		for _, p := range pending[:1+r.IntN(len(pending))] {
			if err := held[p.s].Add(p.u, full[p.s][p.u]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func countStatus(res RaceResult, s Status) int {
	n := 0
	for _, st := range res.Settings {
		if st.Status == s {
			n++
		}
	}
	return n
}

// The evaluation budget: rounds of 5 settings x 2 units x 100 images cost
// 1,000 images each while nothing is dropped, so a budget of 3,500 ends
// the race after 3 rounds with 3,000 images evaluated.
func TestRaceStopsAtTheEvaluationBudget(t *testing.T) {
	w := world{blocks: 20, trials: 1, images: 100, shared: 0.8, delta: make([]float64, 5)}
	cfg := RaceConfig{Confidence: 0.95, UnitsPerRound: 2, MaxEvaluations: 3500, UnitImages: 100}
	res, err := Race(cfg, TrialMajor(w.blocks, w.trials), w.draw(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != Budget || res.Rounds != 3 || res.Evaluations != 3000 || countStatus(res, Dropped) != 0 {
		t.Fatalf("%v after %d rounds, %d images, %d dropped; want the budget after 3 rounds and 3,000 images",
			res.Stop, res.Rounds, res.Evaluations, countStatus(res, Dropped))
	}
	if countStatus(res, Winner) != 1 || countStatus(res, Undecided) != 4 || res.Settings[0].Images != 600 {
		t.Fatalf("standings %+v; want one winner and four undecided, 600 images each", res.Settings)
	}
}

func TestRaceRefusesBadConfig(t *testing.T) {
	two := []Outcomes{{}, {}}
	order := TrialMajor(2, 1)
	for _, c := range []struct {
		cfg      RaceConfig
		settings []Outcomes
		order    []Unit
		want     string
	}{
		{RaceConfig{Confidence: 1, UnitsPerRound: 1}, two, order, "confidence"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 0}, two, order, "units per round"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, MaxRounds: -1}, two, order, "max rounds"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, Margin: math.NaN()}, two, order, "margin"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1}, two[:1], order, "at least 2 settings"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, MaxEvaluations: 100}, two, order, "images per unit"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, Family: 7}, two, order, "family"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1}, two, append(order, order[0]), "twice"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, Draws: 2}, two, order, "draws"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, Spending: 2}, two, order, "spending"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, Growth: -1}, two, order, "growth"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 1, MarginRule: 2}, two, order, "margin rule"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 3, Draws: GivenDraws}, two, BlockMajor(2, 2), "trials"},
		{RaceConfig{Confidence: 0.9, UnitsPerRound: 2, MaxEvaluations: 300, UnitImages: 100}, two, order, "first round"},
	} {
		_, err := Race(c.cfg, c.order, c.settings)
		if !errors.Is(err, ErrInput) || !contains(err, c.want) {
			t.Errorf("%+v: %v; want ErrInput naming %q", c.cfg, err, c.want)
		}
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// Rounds: even ones add UnitsPerRound units each; doubling ones end at
// UnitsPerRound x 2^(r-1); both stop at the order's end and at MaxRounds.
// Spent over the known rounds, each round's level is alpha/(pairs x R),
// with R the rounds the order and MaxRounds allow.
func TestRaceRoundsAndSpending(t *testing.T) {
	for _, c := range []struct {
		cfg  RaceConfig
		n    int
		want []int
	}{
		{RaceConfig{UnitsPerRound: 6}, 20, []int{6, 12, 18, 20}},
		{RaceConfig{UnitsPerRound: 6, MaxRounds: 2}, 20, []int{6, 12}},
		{RaceConfig{UnitsPerRound: 3, Growth: 2}, 30, []int{3, 6, 12, 24, 30}},
		{RaceConfig{UnitsPerRound: 3, Growth: 3}, 27, []int{3, 9, 27}},
		{RaceConfig{UnitsPerRound: 50}, 20, []int{20}},
	} {
		if got := c.cfg.roundEnds(c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v over %d units: rounds end at %v; want %v", c.cfg, c.n, got, c.want)
		}
	}
	w := world{blocks: 12, trials: 1, images: 100, shared: 0.8, delta: make([]float64, 3)}
	for _, c := range []struct {
		spending Spending
		want     []float64 // alpha_r for rounds 1 and 3
	}{
		{ByRound, []float64{0.1 / 3 / 2, 0.1 / 3 / 12}},
		{OverMaxRounds, []float64{0.1 / 3 / 1, 0.1 / 3 / 3}}, // R = MaxRounds: the race never runs more
	} {
		for i, rounds := range []int{1, 3} {
			cfg := RaceConfig{Confidence: 0.9, UnitsPerRound: 3, MaxRounds: rounds, Spending: c.spending}
			res, err := Race(cfg, TrialMajor(w.blocks, w.trials), w.draw(2))
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Settings[0].Alpha; math.Abs(got-c.want[i]) > 1e-15 || res.Rounds != rounds || res.Settings[0].Round != rounds {
				t.Errorf("spending %d, round %d: alpha_r %g; want %g", c.spending, res.Rounds, got, c.want[i])
			}
		}
	}
}
