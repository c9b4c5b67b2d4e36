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

	// Draws says what the race's truth is: the accuracy over the
	// population of images and noise draws (OverDraws, the default), or
	// over the images given the draws of the trials raced (GivenDraws).
	Draws Draws
	// Spending says how alpha is spread over the rounds: 1/(r(r+1)) of
	// it at round r (ByRound, the default: no budget needed), or an even
	// share of the rounds the order and MaxRounds allow (OverMaxRounds).
	Spending Spending
	// Growth, when 2 or more, makes rounds grow geometrically: round r
	// ends after UnitsPerRound x Growth^(r-1) units. 0 or 1 keeps every
	// round at UnitsPerRound units.
	Growth int
	// MarginRule says when survivors count as tied within Margin: every
	// gap interval within +-Margin (BothSides, the default), or no
	// survivor shown better than the best by more than Margin (NoneBetter).
	MarginRule MarginRule
}

// Draws is the population whose accuracies a race compares.
type Draws int

const (
	// OverDraws compares the settings' accuracies over images and noise
	// draws: intervals count the variation between trials (two-way
	// clusters of blocks and trials). With few trials this part has few
	// degrees of freedom, so its quantiles are large.
	OverDraws Draws = iota
	// GivenDraws compares the settings' accuracies over images given the
	// draws of the trials raced: the accuracies a full grid with the same
	// trials estimates. Each block with all its trials is one
	// observation (clusters of blocks only), so the degrees of freedom
	// grow with the blocks. A race run this way needs every round to hold
	// every trial of its blocks (BlockMajor, rounds a multiple of the
	// trials).
	GivenDraws
)

// Spending spreads a race's alpha over its rounds.
type Spending int

const (
	// ByRound spends alpha/(r(r+1)) at round r: it sums to alpha over
	// any number of rounds.
	ByRound Spending = iota
	// OverMaxRounds spends alpha/R at each of the R rounds that the
	// order (and MaxRounds) allow: a Bonferroni form of Pocock's equal
	// levels. It needs R known in advance, and gives later rounds more
	// than ByRound when R is small (geometric rounds).
	OverMaxRounds
)

// MarginRule says when a race's survivors are tied within its margin.
type MarginRule int

const (
	// BothSides ties the survivors when every gap interval lies within
	// [-Margin, +Margin].
	BothSides MarginRule = iota
	// NoneBetter ties them when no survivor's interval reaches more than
	// Margin above the best: the winner is then within Margin of every
	// survivor (and, with the family's guarantee, of the truly best),
	// whatever survivors are worse.
	NoneBetter
)

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
// r covers the first units of order up to its end (RaceConfig.Growth), and
// a round counts once every setting still racing holds all of its units.
// At each complete round the best is the survivor with the most correct
// answers over the round's units (the lowest index among equals); each
// other survivor whose paired gap to the best is significant at level
// alpha_r = alpha w_r / P is dropped, where P is the number of pairs in the
// family (K(K-1)/2 for K settings, or K-1) and the round weights w_r sum
// to at most 1 (RaceConfig.Spending). Bonferroni's inequality then holds
// the probability of any wrong decision in the family, over all rounds, to
// alpha (see docs/STATISTICS.md for the assumptions).
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
	ends := cfg.roundEnds(len(order))
	if first := int64(k) * int64(ends[0]) * cfg.UnitImages; cfg.MaxEvaluations > 0 && first > cfg.MaxEvaluations {
		return RaceResult{}, fmt.Errorf("%w: race max evaluations %d: under the first round's %d (%d settings x %d units x %d images)",
			ErrInput, cfg.MaxEvaluations, first, k, ends[0], cfg.UnitImages)
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
	from := 0
	for r := 1; r <= len(ends); r++ {
		units, fresh := order[:ends[r-1]], order[from:ends[r-1]]
		if cfg.Draws == GivenDraws {
			if err := sameTrials(units); err != nil {
				return RaceResult{}, fmt.Errorf("%w: a race given the draws, round %d: %w", ErrInput, r, err)
			}
		}
		survivors := indices(alive)
		if cfg.MaxEvaluations > 0 && res.Evaluations+int64(len(survivors))*int64(len(fresh))*cfg.UnitImages > cfg.MaxEvaluations {
			break
		}
		if !holdsAll(pick(settings, survivors), fresh) {
			res.Next, res.Survivors = slices.Clone(fresh), survivors
			return res, nil
		}
		res.Rounds, from = r, ends[r-1]
		for _, i := range survivors {
			for _, u := range fresh {
				res.Settings[i].Images += settings[i][u].Images
				res.Evaluations += settings[i][u].Images
			}
		}
		alphaR := alpha / float64(pairs*cfg.spendingDivisor(r, len(ends)))
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

// roundEnds lists, for each round, the number of the order's units it
// covers: UnitsPerRound more each round, or UnitsPerRound x Growth^(r-1),
// up to the n units of the order and at most MaxRounds rounds.
func (cfg RaceConfig) roundEnds(n int) []int {
	var ends []int
	for size := cfg.UnitsPerRound; ; {
		end := min(size, n)
		ends = append(ends, end)
		if end == n || cfg.MaxRounds > 0 && len(ends) == cfg.MaxRounds {
			return ends
		}
		if cfg.Growth >= 2 {
			if size > n/cfg.Growth {
				size = n // the next round would pass the end
			} else {
				size *= cfg.Growth
			}
		} else {
			size += cfg.UnitsPerRound
		}
	}
}

// spendingDivisor is 1/w_r, the share of alpha that round r of rounds
// spends (before it is split over the family's pairs).
func (cfg RaceConfig) spendingDivisor(r, rounds int) float64 {
	if cfg.Spending == OverMaxRounds {
		return float64(rounds)
	}
	return float64(r * (r + 1))
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
		g, err := gain(settings[best], settings[i], units, 1-alphaR, quantile, cfg.Draws == GivenDraws)
		if err != nil {
			return Running, fmt.Errorf("round %d, settings %d and %d: %w", r, best, i, err)
		}
		st := Standing{Status: Racing, Round: r, Against: best, Gain: g, P: g.P(), Alpha: alphaR, Images: res.Settings[i].Images}
		if g.Estimate > 0 && st.P <= alphaR {
			st.Status, alive[i] = Dropped, false
		} else {
			left++
			tied = tied && cfg.withinMargin(g)
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

// withinMargin reports whether the gap interval g (the best minus a
// survivor) ties the survivor with the best under the margin rule.
func (cfg RaceConfig) withinMargin(g Interval) bool {
	if cfg.MarginRule == NoneBetter {
		// The survivor is at most Margin better: -gap + half <= Margin.
		return g.Half-g.Estimate <= cfg.Margin
	}
	return math.Abs(g.Estimate)+g.Half <= cfg.Margin
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
	case cfg.Draws != OverDraws && cfg.Draws != GivenDraws:
		return fmt.Errorf("%w: race draws %d: want OverDraws or GivenDraws", ErrInput, cfg.Draws)
	case cfg.Spending != ByRound && cfg.Spending != OverMaxRounds:
		return fmt.Errorf("%w: race spending %d: want ByRound or OverMaxRounds", ErrInput, cfg.Spending)
	case cfg.Growth < 0 || cfg.Growth > 16:
		return fmt.Errorf("%w: race growth %d: want 0 or 1 (even rounds) up to 16", ErrInput, cfg.Growth)
	case cfg.MarginRule != BothSides && cfg.MarginRule != NoneBetter:
		return fmt.Errorf("%w: race margin rule %d: want BothSides or NoneBetter", ErrInput, cfg.MarginRule)
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

// sameTrials checks that every block among the units comes with the same
// trials: given the draws, a block is one observation over all of them,
// and a block seen in fewer trials would weigh their draws differently.
func sameTrials(units []Unit) error {
	trials := map[int][]int{}
	for _, u := range units {
		trials[u.Block] = append(trials[u.Block], u.Trial)
	}
	var first []int
	firstBlock := -1
	for b, ts := range trials {
		slices.Sort(ts)
		if firstBlock < 0 || b < firstBlock {
			first, firstBlock = ts, b
		}
	}
	for b, ts := range trials {
		if !slices.Equal(ts, first) {
			return fmt.Errorf("block %d has trials %v and block %d %v (race in block-major order, rounds a multiple of the trials)",
				firstBlock, first, b, ts)
		}
	}
	return nil
}

// correct is a setting's correct answers over the units: an integer, so
// the best is chosen exactly.
func correct(o Outcomes, units []Unit) int64 {
	if units == nil {
		units = o.Units()
	}
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
