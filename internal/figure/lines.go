package figure

import (
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one measurement: Y at X, with Err the half-width of its 95 %
// interval (0 for none).
type Point struct {
	X, Y, Err float64
}

// Series is one line: a ClipFormer setting (and any axis that differs
// between lines) across the x axis.
type Series struct {
	Label  string
	Points []Point // in x order
	// Reference marks the untransformed model's line (ClipFormer off):
	// black and dashed, so the settings stand out against it.
	Reference bool
	// NoMarkers draws the line alone (a level, such as "off" across beta).
	NoMarkers bool
}

// Axis is what the x axis shows.
type Axis int

// The x axes.
const (
	Gamma  Axis = iota // the write-noise factor
	Beta               // ClipFormer's stage II cap
	Block              // the transformer block
	SigmaW             // the write-noise sigma
	SigmaR             // the read-noise sigma
)

func (a Axis) label() string {
	return [...]string{"write-noise factor gamma", "beta (cap on the conductance, as a share of Gmax)",
		"block", "write-noise sigma_w", "read-noise sigma_r"}[a]
}

func (a Axis) name() string {
	return [...]string{"gamma", "beta", "block", "sigma_w", "sigma_r"}[a]
}

// Quantity is what the y axis shows.
type Quantity int

// The y quantities.
const (
	Accuracy Quantity = iota // top-1 accuracy, percent
	MeanSNR                  // <SNR> of the attention core over blocks, dB
	SNR                      // SNR of the attention core (of one block), dB
)

func (q Quantity) label() string {
	return [...]string{"top-1 accuracy (%)", "<SNR> of the attention core (dB)", "SNR of the attention core (dB)"}[q]
}

func (q Quantity) name() string {
	return [...]string{"Top-1 accuracy", "<SNR> of the attention core", "SNR of the attention core"}[q]
}

// Lines draws y against x, one line per series with its 95 % intervals,
// to w in format f: accuracy or <SNR> against gamma per ClipFormer setting,
// the SNR per block, accuracy against beta per alpha.
func Lines(w io.Writer, f Format, c Context, x Axis, y Quantity, series []Series) error {
	ch, err := linesChart(c, x, y, series)
	if err != nil {
		return err
	}
	return render(w, f, ch)
}

func linesChart(c Context, x Axis, y Quantity, series []Series) (*chart, error) {
	what := fmt.Sprintf("%s against %s", y.name(), x.name())
	p := newPlot(title(what, c), x.label(), y.label())
	return seriesChart(p, series, nil, y.bounds())
}

// bounds is the range a value of q can take: an accuracy's interval bar
// stops at 0 and 100 %, however wide the interval of a few trials is.
func (q Quantity) bounds() bounds {
	if q == Accuracy {
		return bounds{0, 100}
	}
	return bounds{math.Inf(-1), math.Inf(1)}
}

// bounds is a closed range of values.
type bounds struct{ lo, hi float64 }

// interval is pt's 95 % interval, within b.
func (b bounds) interval(pt Point) (lo, hi float64) {
	return math.Max(pt.Y-math.Abs(pt.Err), b.lo), math.Min(pt.Y+math.Abs(pt.Err), b.hi)
}

// seriesChart adds the series to p with the grid's x ticks (labelled by
// xLabels[x] where given) and round y ticks, padded so nothing touches the
// frame, the legend below; the interval bars stop at yBounds.
func seriesChart(p *plot.Plot, series []Series, xLabels map[float64]string, yBounds bounds) (*chart, error) {
	var xs []float64
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	ch := &chart{p: p}
	p.Add(gridLines{}) // first: beneath the data
	drawn, colour := 0, 0
	for _, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		for _, pt := range s.Points {
			if bad(pt.X) || bad(pt.Y) || bad(pt.Err) {
				return nil, fmt.Errorf("figure: series %q: point (%v, %v ± %v) is not finite", s.Label, pt.X, pt.Y, pt.Err)
			}
			xs = append(xs, pt.X)
			xlo, xhi = math.Min(xlo, pt.X), math.Max(xhi, pt.X)
			lo, hi := yBounds.interval(pt)
			ylo, yhi = math.Min(ylo, math.Min(lo, pt.Y)), math.Max(yhi, math.Max(hi, pt.Y))
		}
		line, glyph := seriesStyle(colour, s.Reference)
		if !s.Reference {
			colour++
		}
		sp := &seriesPlot{s: s, line: line, glyph: glyph, yBounds: yBounds}
		p.Add(sp)
		ch.series = append(ch.series, sp)
		ch.legend = append(ch.legend, legendEntry{label: s.Label, line: line, glyph: glyph, noMarker: s.NoMarkers})
		drawn++
	}
	if drawn == 0 {
		return nil, ErrNoData
	}
	var labels []string
	if xLabels != nil {
		for _, x := range xs {
			labels = append(labels, xLabels[x])
		}
	}
	ch.xTicks = newGridTicker(xs, labels)
	p.X.Tick.Marker = ch.xTicks
	p.Y.Tick.Marker = niceTicks(8)
	p.X.Min, p.X.Max = padRange(xlo, xhi, 0.05)
	p.Y.Min, p.Y.Max = padRange(ylo, yhi, 0.06)
	return ch, nil
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// seriesPlot draws one series: interval bars (in SVG, each bar's upright
// tagged class="errbar"), then the line (one path, in SVG tagged
// class="series"), then the markers.
type seriesPlot struct {
	s       Series
	line    draw.LineStyle
	glyph   draw.GlyphStyle
	yBounds bounds // where the interval bars stop
}

// Plot implements plot.Plotter.
func (sp *seriesPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	bar := draw.LineStyle{Color: sp.line.Color, Width: vg.Points(errWidth)}
	for _, pt := range sp.s.Points {
		if pt.Err == 0 {
			continue
		}
		ylo, yhi := sp.yBounds.interval(pt)
		x, lo, hi := trX(pt.X), trY(ylo), trY(yhi)
		tagNext(c, "errbar", sp.s.Label)
		c.StrokeLine2(bar, x, lo, x, hi)
		c.StrokeLine2(bar, x-vg.Points(capWidth)/2, lo, x+vg.Points(capWidth)/2, lo)
		c.StrokeLine2(bar, x-vg.Points(capWidth)/2, hi, x+vg.Points(capWidth)/2, hi)
	}
	var path vg.Path
	for i, pt := range sp.s.Points {
		at := vg.Point{X: trX(pt.X), Y: trY(pt.Y)}
		if i == 0 {
			path.Move(at)
		} else {
			path.Line(at)
		}
	}
	if len(sp.s.Points) == 1 { // a lone point still gets its (zero-length) line, so each series has one
		path.Line(vg.Point{X: trX(sp.s.Points[0].X), Y: trY(sp.s.Points[0].Y)})
	}
	c.SetLineStyle(sp.line)
	tagNext(c, "series", sp.s.Label)
	c.Stroke(path)
	if sp.s.NoMarkers {
		return
	}
	for _, pt := range sp.s.Points {
		c.DrawGlyphNoClip(sp.glyph, vg.Point{X: trX(pt.X), Y: trY(pt.Y)})
	}
}

// boxes are the canvas rectangles sp covers on c: per point, its marker
// and its interval bar with caps.
func (sp *seriesPlot) boxes(c draw.Canvas, p *plot.Plot) []vg.Rectangle {
	trX, trY := p.Transforms(&c)
	var out []vg.Rectangle
	for _, pt := range sp.s.Points {
		x, y := trX(pt.X), trY(pt.Y)
		r := vg.Rectangle{Min: vg.Point{X: x - sp.glyph.Radius, Y: y - sp.glyph.Radius}, Max: vg.Point{X: x + sp.glyph.Radius, Y: y + sp.glyph.Radius}}
		if pt.Err != 0 {
			ylo, yhi := sp.yBounds.interval(pt)
			lo, hi := trY(ylo), trY(yhi)
			r.Min.Y, r.Max.Y = min(r.Min.Y, lo), max(r.Max.Y, hi)
			r.Min.X, r.Max.X = min(r.Min.X, x-vg.Points(capWidth)/2), max(r.Max.X, x+vg.Points(capWidth)/2)
		}
		out = append(out, r)
	}
	return out
}

// gridLines draws light lines at every grid value of x and at the labelled
// y ticks, beneath the data.
type gridLines struct{}

// Plot implements plot.Plotter.
func (gridLines) Plot(c draw.Canvas, p *plot.Plot) {
	sty := draw.LineStyle{Color: lightGrey, Width: vg.Points(0.5)}
	trX, trY := p.Transforms(&c)
	for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
		c.StrokeLine2(sty, trX(t.Value), c.Min.Y, trX(t.Value), c.Max.Y)
	}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if t.Label != "" {
			c.StrokeLine2(sty, c.Min.X, trY(t.Value), c.Max.X, trY(t.Value))
		}
	}
}
