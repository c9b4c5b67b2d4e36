package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/clipformer/clipformer/internal/paired"
)

// CompareRow is one setting's gain over the baseline setting of its group
// (the points that share gamma, sigma_r, sigma_w and the device axes).
type CompareRow struct {
	Row      Row // the setting's row
	Baseline Row // the baseline's row in the same group
	// Paired is the gain's interval over the units both settings hold
	// (paired.Gain): image blocks and trials.
	Paired paired.Interval
	// Unpaired is the half-width the results table implies for the gain:
	// sqrt(a^2 + b^2) of the two rows' +-95% (their trials' t interval, or
	// the binomial one with one trial).
	Unpaired float64
	// TwoWay is the unpaired interval with the paired one's estimator
	// (paired.Unpaired): like for like, images and trials both counted.
	TwoWay paired.Interval
}

// ParseClip turns "off", "alpha=A beta=B" or "A,B" into a row's Clip label.
func ParseClip(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return s, nil
	}
	var a, b float64
	if _, err := fmt.Sscanf(s, "alpha=%g beta=%g", &a, &b); err == nil {
		return fmt.Sprintf("alpha=%g beta=%g", a, b), nil
	}
	if parts := strings.Split(s, ","); len(parts) == 2 {
		a, errA := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		b, errB := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		if errA == nil && errB == nil {
			return fmt.Sprintf("alpha=%g beta=%g", a, b), nil
		}
	}
	return "", fmt.Errorf("setting %q: want off, ALPHA,BETA or \"alpha=A beta=B\"", s)
}

// Compare pairs every row with the baseline setting of its group; outcomes
// hold each point's per-unit results by point index.
func Compare(rows []Row, outcomes map[int]paired.Outcomes, baseline string, level float64) ([]CompareRow, error) {
	base, err := ParseClip(baseline)
	if err != nil {
		return nil, fmt.Errorf("--compare: %w", err)
	}
	group := func(r Row) string { return fmt.Sprint(r.Gamma, r.SigmaR, r.SigmaW, r.Device) }
	bases := map[string]Row{}
	var clips []string
	for _, r := range rows {
		if r.Clip == base {
			bases[group(r)] = r
		}
		if !slices.Contains(clips, r.Clip) {
			clips = append(clips, r.Clip)
		}
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("--compare: no point has the ClipFormer setting %q; the sweep has %s", base, strings.Join(clips, ", "))
	}
	var out []CompareRow
	for _, r := range rows {
		b, ok := bases[group(r)]
		if !ok || r.Point == b.Point {
			continue
		}
		g, err := paired.Gain(outcomes[r.Point], outcomes[b.Point], nil, level)
		if err != nil {
			return nil, fmt.Errorf("point %d (%s) against point %d: %w", r.Point, r.Clip, b.Point, err)
		}
		tw, err := paired.Unpaired(outcomes[r.Point], outcomes[b.Point], nil, level)
		if err != nil {
			return nil, fmt.Errorf("point %d (%s) against point %d: %w", r.Point, r.Clip, b.Point, err)
		}
		un := math.Inf(1)
		if r.Trials > 0 && b.Trials > 0 {
			un = math.Sqrt(r.CI95*r.CI95 + b.CI95*b.CI95)
		}
		out = append(out, CompareRow{Row: r, Baseline: b, Paired: g, Unpaired: un, TwoWay: tw})
	}
	return out, nil
}

// WriteCompare prints the gains as a table: the paired interval next to
// the unpaired ones (the results table's and the two-way one), the ratio
// of the paired to the two-way unpaired width, and the paired p-value.
func WriteCompare(w io.Writer, rows []CompareRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "gamma\tsigma_r\tClipFormer\tbaseline\tblocks x trials\tgain (points)\tpaired +-95%\t"+
		"unpaired +-95% (table)\tunpaired +-95% (two-way)\tpaired/unpaired\tp (paired)\t")
	for _, c := range rows {
		r, g := c.Row, c.Paired
		gain, ratio, p := "-", "-", "-"
		if g.Images > 0 {
			gain = fmt.Sprintf("%+.2f", g.Estimate)
		}
		if !math.IsInf(g.Half, 1) {
			p = fmtP(g.P())
			if c.TwoWay.Half > 0 && !math.IsInf(c.TwoWay.Half, 1) {
				ratio = fmt.Sprintf("%.2f", g.Half/c.TwoWay.Half)
			}
		}
		fmt.Fprintf(tw, "%g\t%g\t%s\t%s\t%d x %d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Gamma, r.SigmaR, r.Clip, c.Baseline.Clip,
			g.Blocks, g.Trials, gain, fmtHalf(g.Half), fmtHalf(c.Unpaired), fmtHalf(c.TwoWay.Half), ratio, p)
	}
	return tw.Flush()
}

func fmtHalf(h float64) string {
	if math.IsInf(h, 1) {
		return "-"
	}
	return fmt.Sprintf("%.2f", h)
}

func fmtP(p float64) string {
	if p < 1e-12 {
		return "<1e-12"
	}
	return fmt.Sprintf("%.2g", p)
}
