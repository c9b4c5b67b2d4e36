package figure

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// gridTicker ticks exactly the grid's values (gamma 0, 1, 2, ...; beta
// 0.125, 0.25, ...), labelled with the values as the spec writes them.
// Where labels would run into each other, fit leaves some out; the tick
// marks stay.
type gridTicker struct {
	values []float64
	labels []string
	shown  []bool
}

// newGridTicker ticks values (sorted, duplicates dropped), labelled by
// labels when given (one per value, in the order given) or by %g.
func newGridTicker(values []float64, labels []string) *gridTicker {
	type vl struct {
		v float64
		l string
	}
	var vs []vl
	for i, v := range values {
		l := strconv.FormatFloat(v, 'g', -1, 64)
		if labels != nil {
			l = labels[i]
		}
		vs = append(vs, vl{v, l})
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].v < vs[j].v })
	t := &gridTicker{}
	for i, x := range vs {
		if i > 0 && x.v == vs[i-1].v {
			continue
		}
		t.values, t.labels, t.shown = append(t.values, x.v), append(t.labels, x.l), append(t.shown, true)
	}
	return t
}

// fit leaves out labels that would overlap their shown left neighbour on a
// data area width wide spanning span data units.
func (t *gridTicker) fit(width vg.Length, span float64, sty text.Style) {
	if span <= 0 || width <= 0 {
		return
	}
	gap := sty.Width("0")
	last := -1
	for i := range t.values {
		t.shown[i] = true
		if last < 0 {
			last = i
			continue
		}
		dist := vg.Length((t.values[i]-t.values[last])/span) * width
		if dist < (sty.Width(t.labels[i])+sty.Width(t.labels[last]))/2+gap {
			t.shown[i] = false
			continue
		}
		last = i
	}
}

// Ticks implements plot.Ticker.
func (t *gridTicker) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for i, v := range t.values {
		if v < lo || v > hi {
			continue
		}
		tk := plot.Tick{Value: v}
		if t.shown[i] {
			tk.Label = t.labels[i]
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// niceTicks labels about n round values (steps of 1, 2, 2.5 or 5 times a
// power of ten) between lo and hi.
func niceTicks(n int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		if !(hi > lo) {
			return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
		}
		step, decimals := niceStep((hi - lo) / float64(n))
		var ticks []plot.Tick
		for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
			v := k * step
			if v == 0 {
				v = 0 // no "-0"
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%.*f", decimals, v)})
		}
		return ticks
	})
}

// niceStep is the round step nearest above raw, and the decimals its
// labels need.
func niceStep(raw float64) (float64, int) {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step := m * mag; step >= raw*(1-1e-9) {
			d := int(math.Max(0, -math.Floor(math.Log10(step)+1e-9)))
			if m == 2.5 && step < 10 {
				d++
			}
			return step, d
		}
	}
	return 10 * mag, 0
}

// padRange widens [lo, hi] by frac of its span on each side (a unit span
// when it is a single value), so that nothing drawn at the ends touches the
// frame.
func padRange(lo, hi, frac float64) (float64, float64) {
	span := hi - lo
	if span <= 0 {
		span = math.Max(math.Abs(lo), 1)
		return lo - span*0.5, hi + span*0.5
	}
	return lo - span*frac, hi + span*frac
}
