package paired

import (
	"fmt"
	"math"
	"slices"
)

// RaceConfig is a race among the settings of one group.
type RaceConfig struct {
	// Confidence is 1 - alpha, the probability that the race makes no
	// wrong decision over all its rounds and settings (e.g. 0.95).
	Confidence float64
	// UnitsPerRound is the number of units (shards) each round adds to
	// every surviving setting, taken in the race's order.
	UnitsPerRound int
	// MaxRounds ends the race at the budget; 0 runs until the order's
	// units are spent.
	MaxRounds int
	// Margin, in accuracy points, ends the race when every survivor's
	// gap to the best is shown to lie within +-Margin; 0 never ties.
	Margin float64
	// Family is the family of comparisons whose error rate the race
	// holds at 1 - Confidence: every pair of settings (AllPairs, the
	// default) or the truly best setting's pairs (AgainstTheBest).
	Family Family
	// MaxEvaluations, when above 0, ends the race at the budget of image
	// evaluations: a round starts only if the evaluations so far plus
	// survivors x its units x UnitImages (the images of a full unit, an
	// upper bound) stay within it.
	MaxEvaluations, UnitImages int64
}

// Family says which wrong decisions a race's error rate covers.
type Family int

const (
	// AllPairs spends alpha over the K(K-1)/2 pairs of settings: with
	// probability 1 - alpha no setting is ever dropped in favour of one
	// that is not truly better.
	AllPairs Family = iota
	// AgainstTheBest spends alpha over the K-1 pairs of one setting: with
	// probability 1 - alpha the truly best setting (each of them, if
	// several tie) is never dropped and a tie names a winner within the
	// margin of it. Its levels are K/2 times AllPairs'.
	AgainstTheBest
)

// Status is a setting's standing in a race.
type Status int

// A setting races until it is dropped or the race ends; then it is the
// winner, tied with it (within the margin), or undecided (the budget ran
// out before the race could tell).
const (
	Racing Status = iota
	Winner
	Tied
	Undecided
	Dropped
)

func (s Status) String() string {
	return [...]string{"racing", "winner", "tied", "undecided", "dropped"}[s]
}

// Stop says why a race ended, or that it goes on.
type Stop int

// The race goes on (Running) until one setting is left (OneLeft), every
// survivor is within the margin of the best (WithinMargin), or the budget
// is spent (Budget).
const (
	Running Stop = iota
	OneLeft
	WithinMargin
	Budget
)

func (s Stop) String() string {
	return [...]string{"running", "one left", "survivors tied within the margin", "budget spent"}[s]
}

// Standing is one setting's outcome so far.
type Standing struct {
	Status Status
	// Round is the round the status was decided at (the round it was
	// dropped at), or the last complete round.
	Round int
	// Against is the setting it was compared with at that round: the best.
	Against int
	// Gain is the best's accuracy minus this setting's, paired over the
	// round's units, with its interval at the round's level (zero for the
	// best itself).
	Gain Interval
	// P is the paired test's two-sided p-value and Alpha the level it
	// was held to at that round (alpha / (pairs x r(r+1))).
	P, Alpha float64
	// Images is what the race evaluated of this setting: the images of
	// its units up to Round.
	Images int64
}

// RaceResult is the state of a race after replaying every complete round.
type RaceResult struct {
	Rounds int // complete rounds
	Stop   Stop
	// Evaluations is the images evaluated over the complete rounds, all
	// settings together: the race's cost.
	Evaluations int64
	Best        int // the best setting at the last complete round (the winner once stopped)
	Settings    []Standing
	// Next lists, while the race runs, the units that every survivor
	// needs for the next round; Survivors lists them.
	Next      []Unit
	Survivors []int
}

// Race replays a paired race over the settings' committed outcomes: round
// r covers order[:r*UnitsPerRound] (the last round may be shorter), and a
// round counts once every setting still racing holds all of its units. At
// each complete round the best is the survivor with the most correct
// answers over the round's units (the lowest index among equals); each
// other survivor whose paired gap to the best is significant at level
// alpha_r = alpha / (P * r(r+1)) is dropped, where P is the number of
// pairs in the family (K(K-1)/2 for K settings, or K-1). Since
// sum_r 1/(r(r+1)) = 1, Bonferroni's inequality holds the probability of
// any wrong decision in the family, over all rounds, to alpha (see
// docs/STATISTICS.md for the assumptions).
//
// The result depends only on the outcomes held, never on the order they
// arrived in: outcomes beyond the current round, or of dropped settings,
// are ignored.
func Race(cfg RaceConfig, order []Unit, settings []Outcomes) (RaceResult, error) {
	if err := cfg.check(order, settings); err != nil {
		return RaceResult{}, err
	}
	k := len(settings)
	res := RaceResult{Settings: make([]Standing, k)}
	alive := make([]bool, k)
	for i := range alive {
		alive[i] = true
	}
	rounds := (len(order) + cfg.UnitsPerRound - 1) / cfg.UnitsPerRound
	if cfg.MaxRounds > 0 {
		rounds = min(rounds, cfg.MaxRounds)
	}
	pairs := float64(k * (k - 1) / 2)
	if cfg.Family == AgainstTheBest {
		pairs = float64(k - 1)
	}
	quantiles := map[[2]float64]float64{}
	quantile := func(a float64, df int) float64 {
		key := [2]float64{a, float64(df)}
		q, ok := quantiles[key]
		if !ok {
			q = TQuantile(a, df)
			quantiles[key] = q
		}
		return q
	}
	alpha := 1 - cfg.Confidence
	for r := 1; r <= rounds; r++ {
		units := order[:min(r*cfg.UnitsPerRound, len(order))]
		survivors := indices(alive)
		fresh := int64(len(units) - (r-1)*cfg.UnitsPerRound)
		if cfg.MaxEvaluations > 0 && res.Evaluations+int64(len(survivors))*fresh*cfg.UnitImages > cfg.MaxEvaluations {
			break
		}
		if !holdsAll(pick(settings, survivors), units) {
			res.Next, res.Survivors = slices.Clone(order[(r-1)*cfg.UnitsPerRound:len(units)]), survivors
			return res, nil
		}
		res.Rounds = r
		for _, i := range survivors {
			for _, u := range units[(r-1)*cfg.UnitsPerRound:] {
				res.Settings[i].Images += settings[i][u].Images
				res.Evaluations += settings[i][u].Images
			}
		}
		alphaR := alpha / float64(pairs*float64(r*(r+1)))
		stop, err := res.round(cfg, settings, units, survivors, alive, r, alphaR, quantile)
		if err != nil {
			return RaceResult{}, err
		}
		if stop != Running {
			res.finish(stop, alive)
			return res, nil
		}
	}
	res.finish(Budget, alive)
	return res, nil
}

// round applies round r's tests to the survivors: it drops those shown
// worse than the best and says whether the race stops.
func (res *RaceResult) round(cfg RaceConfig, settings []Outcomes, units []Unit, survivors []int, alive []bool, r int, alphaR float64,
	quantile func(float64, int) float64) (Stop, error) {
	best := survivors[0]
	bestCorrect := correct(settings[best], units)
	for _, i := range survivors[1:] {
		if c := correct(settings[i], units); c > bestCorrect {
			best, bestCorrect = i, c
		}
	}
	res.Best = best
	res.Settings[best] = Standing{Status: Racing, Round: r, Against: best, P: 1, Alpha: alphaR, Images: res.Settings[best].Images}
	left, tied := 1, true
	for _, i := range survivors {
		if i == best {
			continue
		}
		g, err := gain(settings[best], settings[i], units, 1-alphaR, quantile)
		if err != nil {
			return Running, fmt.Errorf("round %d, settings %d and %d: %w", r, best, i, err)
		}
		st := Standing{Status: Racing, Round: r, Against: best, Gain: g, P: g.P(), Alpha: alphaR, Images: res.Settings[i].Images}
		if g.Estimate > 0 && st.P <= alphaR {
			st.Status, alive[i] = Dropped, false
		} else {
			left++
			// Tied: the whole interval of the gap lies within the margin.
			tied = tied && math.Abs(g.Estimate)+g.Half <= cfg.Margin
		}
		res.Settings[i] = st
	}
	switch {
	case left == 1:
		return OneLeft, nil
	case tied && cfg.Margin > 0:
		return WithinMargin, nil
	}
	return Running, nil
}

// finish marks the survivors once the race has stopped.
func (res *RaceResult) finish(stop Stop, alive []bool) {
	res.Stop = stop
	for i, ok := range alive {
		switch {
		case !ok:
		case i == res.Best:
			res.Settings[i].Status = Winner
		case stop == WithinMargin:
			res.Settings[i].Status = Tied
		default:
			res.Settings[i].Status = Undecided
		}
	}
}

func (cfg RaceConfig) check(order []Unit, settings []Outcomes) error {
	switch {
	case !(cfg.Confidence > 0 && cfg.Confidence < 1):
		return fmt.Errorf("%w: race confidence %v is not in (0, 1)", ErrInput, cfg.Confidence)
	case cfg.UnitsPerRound < 1:
		return fmt.Errorf("%w: race units per round %d: want at least 1", ErrInput, cfg.UnitsPerRound)
	case cfg.MaxRounds < 0:
		return fmt.Errorf("%w: race max rounds %d: want 0 (no limit) or more", ErrInput, cfg.MaxRounds)
	case !(cfg.Margin >= 0) || math.IsInf(cfg.Margin, 1):
		return fmt.Errorf("%w: race margin %v: want a finite value >= 0", ErrInput, cfg.Margin)
	case cfg.MaxEvaluations < 0 || cfg.MaxEvaluations > 0 && cfg.UnitImages < 1:
		return fmt.Errorf("%w: race max evaluations %d with %d images per unit: want 0 (no limit), or a budget and the images of a unit",
			ErrInput, cfg.MaxEvaluations, cfg.UnitImages)
	case cfg.Family != AllPairs && cfg.Family != AgainstTheBest:
		return fmt.Errorf("%w: race family %d: want AllPairs or AgainstTheBest", ErrInput, cfg.Family)
	case len(settings) < 2:
		return fmt.Errorf("%w: a race needs at least 2 settings, got %d", ErrInput, len(settings))
	case len(order) == 0:
		return fmt.Errorf("%w: a race needs at least one unit in its order", ErrInput)
	}
	seen := map[Unit]bool{}
	for _, u := range order {
		if seen[u] {
			return fmt.Errorf("%w: race order lists unit (block %d, trial %d) twice", ErrInput, u.Block, u.Trial)
		}
		seen[u] = true
	}
	return nil
}

// correct is a setting's correct answers over the units: an integer, so
// the best is chosen exactly.
func correct(o Outcomes, units []Unit) int64 {
	var c int64
	for _, u := range units {
		c += o[u].Correct
	}
	return c
}

func indices(alive []bool) []int {
	var out []int
	for i, ok := range alive {
		if ok {
			out = append(out, i)
		}
	}
	return out
}

func pick(settings []Outcomes, idx []int) []Outcomes {
	out := make([]Outcomes, len(idx))
	for j, i := range idx {
		out[j] = settings[i]
	}
	return out
}
