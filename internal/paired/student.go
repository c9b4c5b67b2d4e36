package paired

import "math"

// maxDF caps the degrees of freedom of every t computation. Student's t
// quantile falls with its degrees of freedom, so the cap only widens an
// interval (by under 0.1 % of the normal quantile at 1,000), and it bounds
// the closed-form series below to 500 terms.
const maxDF = 1000

// TwoSidedP is P(|T| > |t|) for Student's t with df degrees of freedom
// (capped at 1,000; df < 1 gives 1). It uses the closed form for an
// integer df (Abramowitz and Stegun 26.7.3 and 26.7.4): with
// theta = atan(t/sqrt(df)),
//
//	df even: P(|T| <= t) = sin(theta) (1 + cos^2/2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
//	df odd:  P(|T| <= t) = 2/pi (theta + sin(theta) cos(theta) (1 + 2/3 cos^2 + ... up to cos^(df-3)))
//
// where sin(theta) and cos^2(theta) are algebraic in t, so only the odd
// case needs an arc tangent. Its absolute error is a few units of 1e-16:
// enough against levels down to 1e-12.
func TwoSidedP(t float64, df int) float64 {
	t = math.Abs(t)
	switch {
	case df < 1 || math.IsNaN(t):
		return 1
	case math.IsInf(t, 1):
		return 0
	}
	df = min(df, maxDF)
	nu := float64(df)
	t2 := float64(t * t)
	den := nu + t2
	sin := t / math.Sqrt(den)
	cos2 := nu / den
	var inside float64
	if df%2 == 0 {
		inside = float64(sin * cosSeries(cos2, 2, df-2))
	} else {
		inside = atan(t / math.Sqrt(nu))
		if df > 1 {
			inside += float64(float64(sin*math.Sqrt(cos2)) * cosSeries(cos2, 3, df-2))
		}
		inside = float64(inside * (2 / math.Pi))
	}
	return min(1, max(0, 1-inside))
}

// cosSeries is 1 + sum over k = from, from+2, ..., to of term_k, where
// term_k = term_(k-2) * cos2 * (k-1)/k and the term before from is 1.
func cosSeries(cos2 float64, from, to int) float64 {
	term, sum := 1.0, 1.0
	for k := from; k <= to; k += 2 {
		term = float64(float64(term*cos2)*float64(k-1)) / float64(k)
		sum += term
	}
	return sum
}

// TQuantile is the t such that TwoSidedP(t, df) = alpha: the half-width
// multiplier of a two-sided interval at level 1-alpha. It bisects
// TwoSidedP, which falls in t, to the last bit; df < 1 or alpha <= 0 gives
// +Inf.
func TQuantile(alpha float64, df int) float64 {
	if df < 1 || !(alpha > 0) {
		return math.Inf(1)
	}
	if alpha >= 1 {
		return 0
	}
	lo, hi := 0.0, 1.0
	for TwoSidedP(hi, df) > alpha {
		lo, hi = hi, hi*2
		if math.IsInf(hi, 1) {
			return hi
		}
	}
	for i := 0; i < 200; i++ {
		mid := lo + float64((hi-lo)/2)
		if mid <= lo || mid >= hi {
			break
		}
		if TwoSidedP(mid, df) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// atan is the arc tangent of x computed with the four operations only, in a
// fixed order, so that it gives the same bits on every platform: reduced to
// |x| <= tan(pi/12) by atan(x) = pi/2 - atan(1/x) and
// atan(x) = pi/6 + atan((x sqrt(3) - 1)/(x + sqrt(3))), then its Taylor
// series, whose terms shrink by x^2 <= 0.072 each, summed until a term no
// longer changes the sum (at most 30 terms: 1e-34).
func atan(x float64) float64 {
	const (
		sqrt3   = 1.7320508075688772935274463415058723669428
		tanPi12 = 0.26794919243112270647255365849412763305719
	)
	switch {
	case math.IsNaN(x):
		return x
	case x < 0:
		return -atan(-x)
	case x > 1:
		return math.Pi/2 - atan(1/x)
	case x > tanPi12:
		return math.Pi/6 + atan((float64(x*sqrt3)-1)/(x+sqrt3))
	}
	x2 := float64(x * x)
	term, sum := x, 0.0
	for k := 0; k < 30; k++ {
		next := sum + term/float64(2*k+1)
		if next == sum {
			break // the terms no longer change the sum
		}
		sum, term = next, -float64(term*x2)
	}
	return sum
}
