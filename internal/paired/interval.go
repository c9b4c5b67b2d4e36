package paired

import (
	"fmt"
	"math"
	"slices"
)

// Interval is an estimate in percentage points with its two-sided
// confidence interval: Estimate +- Half.
type Interval struct {
	Estimate float64 // accuracy or gain, percent
	Half     float64 // half-width, percent; +Inf when no variance can be estimated
	SE       float64 // standard error, percent
	DF       int     // degrees of freedom of the t quantile; 0 when there is none
	Level    float64 // confidence level, e.g. 0.95
	Units    int     // units (shards) per setting
	Images   int64   // images per setting over those units
	Blocks   int     // distinct image blocks among the units
	Trials   int     // distinct trials among the units
}

// P is the two-sided p-value of Estimate against zero (for a gain: that
// the two settings are equally accurate).
func (iv Interval) P() float64 {
	switch {
	case iv.DF < 1:
		return 1
	case iv.SE == 0 && iv.Estimate == 0:
		return 1
	case iv.SE == 0:
		return 0
	}
	return TwoSidedP(iv.Estimate/iv.SE, iv.DF)
}

// obs is one unit's value y (correct count, or a difference of correct
// counts) over n images.
type obs struct {
	u    Unit
	y, n int64
}

// Accuracy is the interval of one setting's accuracy over the given units
// (all of its units when units is nil), at confidence level.
func Accuracy(o Outcomes, units []Unit, level float64) (Interval, error) {
	if units == nil {
		units = o.Units()
	}
	xs, err := observe(units, func(u Unit) (int64, int64, error) {
		c, ok := o[u]
		if !ok {
			return 0, 0, fmt.Errorf("%w: no outcome for unit (block %d, trial %d)", ErrInput, u.Block, u.Trial)
		}
		return c.Correct, c.Images, nil
	})
	if err != nil {
		return Interval{}, err
	}
	return estimate(xs, level, TQuantile)
}

// Gain is the paired interval of a's accuracy minus b's over the given
// units (all units both hold when units is nil): per unit, the difference
// of their correct counts on the same images and draws.
func Gain(a, b Outcomes, units []Unit, level float64) (Interval, error) {
	return gain(a, b, units, level, TQuantile, false)
}

// GainGivenDraws is Gain over images given the draws of the units'
// trials: each block, over all its trials, is one observation (clusters of
// blocks only), so trials add no variance and no degrees of freedom of
// their own. It is the interval of the gain a full grid with the same
// trials estimates.
func GainGivenDraws(a, b Outcomes, units []Unit, level float64) (Interval, error) {
	return gain(a, b, units, level, TQuantile, true)
}

// gain is Gain with the t quantile function given (a race memoizes it);
// givenDraws clusters by blocks only.
func gain(a, b Outcomes, units []Unit, level float64, quantile func(alpha float64, df int) float64, givenDraws bool) (Interval, error) {
	if units == nil {
		units = Shared(a, b)
	}
	xs, err := observe(units, func(u Unit) (int64, int64, error) {
		ca, okA := a[u]
		cb, okB := b[u]
		switch {
		case !okA || !okB:
			return 0, 0, fmt.Errorf("%w: unit (block %d, trial %d) is missing from a setting", ErrInput, u.Block, u.Trial)
		case ca.Images != cb.Images:
			return 0, 0, fmt.Errorf("%w: unit (block %d, trial %d) covers %d images in one setting and %d in the other",
				ErrInput, u.Block, u.Trial, ca.Images, cb.Images)
		}
		return ca.Correct - cb.Correct, ca.Images, nil
	})
	if err != nil {
		return Interval{}, err
	}
	if !givenDraws {
		return estimate(xs, level, quantile)
	}
	trials := map[int]bool{}
	for i := range xs {
		trials[xs[i].u.Trial] = true
		xs[i].u.Trial = 0 // one trial cluster: the trials add nothing
	}
	iv, err := estimate(xs, level, quantile)
	iv.Trials = len(trials)
	return iv, err
}

// Unpaired is the interval of a's accuracy minus b's as if the two had
// been evaluated independently: the sum of the two accuracies' variances,
// with Welch-Satterthwaite degrees of freedom. It is what pairing is
// measured against.
func Unpaired(a, b Outcomes, units []Unit, level float64) (Interval, error) {
	if units == nil {
		units = Shared(a, b)
	}
	ia, err := Accuracy(a, units, level)
	if err != nil {
		return Interval{}, err
	}
	ib, err := Accuracy(b, units, level)
	if err != nil {
		return Interval{}, err
	}
	va, vb := float64(ia.SE*ia.SE), float64(ib.SE*ib.SE)
	iv := ia
	iv.Estimate = ia.Estimate - ib.Estimate
	iv.DF = satterthwaite(va, ia.DF, vb, ib.DF)
	iv.SE = math.Sqrt(va + vb)
	iv.Half = float64(TQuantile(1-level, iv.DF) * iv.SE)
	return iv, nil
}

// observe reads the units' values in canonical order.
func observe(units []Unit, value func(Unit) (y, n int64, err error)) ([]obs, error) {
	sorted := append([]Unit(nil), units...)
	SortUnits(sorted)
	xs := make([]obs, 0, len(sorted))
	var total int64
	for i, u := range sorted {
		if i > 0 && sorted[i-1] == u {
			return nil, fmt.Errorf("%w: unit (block %d, trial %d) listed twice", ErrInput, u.Block, u.Trial)
		}
		y, n, err := value(u)
		if err != nil {
			return nil, err
		}
		if total += n; total >= maxImages {
			return nil, fmt.Errorf("%w: over %d images", ErrInput, int64(maxImages))
		}
		xs = append(xs, obs{u: u, y: y, n: n})
	}
	return xs, nil
}

// estimate is the ratio estimate Y/N of the units' values with its
// two-way cluster variance (docs/STATISTICS.md):
//
//	V = V_blocks + V_trials, V_g = G/(G-1) sum_g (Y_g - m N_g)^2 / N^2
//
// over the G clusters of each kind (a kind with one cluster adds
// nothing), floored at the image-level variance q(1-q)/N with q = |Y|/N;
// its degrees of freedom are Welch-Satterthwaite's of the two parts.
func estimate(xs []obs, level float64, quantile func(alpha float64, df int) float64) (Interval, error) {
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("%w: confidence level %v is not in (0, 1)", ErrInput, level)
	}
	iv := Interval{Level: level, Units: len(xs), Half: math.Inf(1)}
	var y, n int64
	for _, x := range xs {
		y, n = y+x.y, n+x.n
	}
	iv.Images = n
	if n == 0 {
		return iv, nil
	}
	vb, blocks := clusterVariance(xs, func(u Unit) int { return u.Block }, y, n)
	vt, trials := clusterVariance(xs, func(u Unit) int { return u.Trial }, y, n)
	iv.Blocks, iv.Trials = blocks, trials
	iv.DF = satterthwaite(vb, blocks-1, vt, trials-1)
	fn := float64(n)
	q := float64(abs(y)) / fn
	v := max(vb+vt, float64(q*(1-q))/fn)
	iv.Estimate = float64(100*float64(y)) / fn
	iv.SE = float64(100 * math.Sqrt(v))
	if iv.DF > 0 {
		iv.Half = float64(quantile(1-level, iv.DF) * iv.SE)
	}
	return iv, nil
}

// clusterVariance is the cluster-robust variance of the ratio Y/N over the
// clusters that key gives, and the number of clusters; 0 with one cluster.
// Each cluster's residual is the integer (Y_g N - Y N_g)/N, so the sum
// depends only on the counts, in the clusters' key order.
func clusterVariance(xs []obs, key func(Unit) int, y, n int64) (float64, int) {
	type cluster struct {
		key  int
		y, n int64
	}
	cs := make([]cluster, len(xs))
	for i, x := range xs {
		cs[i] = cluster{key(x.u), x.y, x.n}
	}
	slices.SortStableFunc(cs, func(a, b cluster) int { return a.key - b.key })
	g, ss := 0, 0.0
	for i := 0; i < len(cs); {
		var yg, ng int64
		j := i
		for ; j < len(cs) && cs[j].key == cs[i].key; j++ {
			yg, ng = yg+cs[j].y, ng+cs[j].n
		}
		// |Y_g N|, |Y N_g| < 2^62: the difference is exact.
		r := float64(yg*n - y*ng)
		ss += float64(r * r)
		g, i = g+1, j
	}
	if g < 2 {
		return 0, g
	}
	fn := float64(n)
	n4 := float64(float64(fn*fn) * float64(fn*fn))
	return float64(float64(g)/float64(g-1)) * (ss / n4), g
}

// satterthwaite is the Welch-Satterthwaite degrees of freedom of the sum
// of two variance estimates with da and db degrees of freedom (a part with
// none is left out), rounded down and held within [min, da+db].
func satterthwaite(va float64, da int, vb float64, db int) int {
	switch {
	case da < 1 && db < 1:
		return 0
	case da < 1:
		return db
	case db < 1:
		return da
	}
	den := float64(va*va)/float64(da) + float64(vb*vb)/float64(db)
	if den == 0 {
		return da + db
	}
	df := int(math.Floor(float64((va+vb)*(va+vb)) / den))
	return min(max(df, min(da, db)), da+db)
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
