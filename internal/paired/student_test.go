package paired

import (
	"math"
	"testing"
)

// Student's t quantiles from the standard tables (Abramowitz and Stegun
// table 26.10), to their printed 3 decimals: TwoSidedP of the tabulated
// quantile is the level within the table's rounding, and TQuantile
// inverts it.
func TestTwoSidedPMatchesTheTQuantileTable(t *testing.T) {
	for _, c := range []struct {
		df    int
		alpha float64
		q     float64
	}{
		{1, 0.05, 12.706}, {2, 0.05, 4.303}, {3, 0.05, 3.182}, {9, 0.05, 2.262}, {30, 0.05, 2.042},
		{120, 0.05, 1.980}, {1, 0.01, 63.657}, {4, 0.01, 4.604}, {10, 0.01, 3.169}, {60, 0.01, 2.660},
		{5, 0.001, 6.869}, {20, 0.001, 3.850},
	} {
		if got := TQuantile(c.alpha, c.df); math.Abs(got-c.q) > 0.0006 {
			t.Errorf("TQuantile(%g, %d) = %.5f, table %.3f", c.alpha, c.df, got, c.q)
		}
		// The table rounds q to 0.0005, which moves the level by at most
		// density x 0.0005, under 5 % of alpha for these rows.
		if p := TwoSidedP(c.q, c.df); math.Abs(p-c.alpha) > 0.05*c.alpha {
			t.Errorf("TwoSidedP(%g, %d) = %.6f, want %g", c.q, c.df, p, c.alpha)
		}
	}
	// Large df tends to the normal: P(|Z| > 1.959963984540054) = 0.05; at
	// df 1,000 the quantile is 1.962339.
	if got := TQuantile(0.05, 5000); math.Abs(got-1.962339) > 2e-6 {
		t.Errorf("TQuantile(0.05, 5000) = %.6f, want the capped df 1000's 1.962339", got)
	}
}

// The arc tangent agrees with the math package's within a few ulps over
// the range the reductions cover.
func TestAtanAgreesWithTheMathPackage(t *testing.T) {
	for _, x := range []float64{0, 1e-9, 0.1, 0.2679, 0.268, 0.5, 0.99, 1, 1.01, 3, 12.7, 1e6, -0.7} {
		if got, want := atan(x), math.Atan(x); math.Abs(got-want) > 4e-16*math.Max(1, math.Abs(want)) {
			t.Errorf("atan(%g) = %.17g, math.Atan %.17g", x, got, want)
		}
	}
}

// The bits of these values are part of the decisions' contract: a
// platform or a change that computes any of them differently would let
// replicas disagree. The constants were printed on linux/amd64 with
// `go test -run TestDecisionArithmeticGoldenBits -v ./internal/paired`.
func TestDecisionArithmeticGoldenBits(t *testing.T) {
	for _, c := range []struct {
		name string
		got  float64
		want uint64
	}{
		{"TwoSidedP(2.5, 7)", TwoSidedP(2.5, 7), 0x3fa4fcee9c6ebdd0},
		{"TwoSidedP(3.1, 40)", TwoSidedP(3.1, 40), 0x3f6cf96f3e670600},
		{"TQuantile(0.05/156, 19)", TQuantile(0.05/156, 19), 0x40118742ef5495c0},
		{"atan(0.7)", atan(0.7), 0x3fe38b112d7bd4ae},
	} {
		if b := math.Float64bits(c.got); b != c.want {
			t.Errorf("%s = %.17g (bits %#x), golden bits %#x (%.17g)", c.name, c.got, b, c.want, math.Float64frombits(c.want))
		}
	}
}
