package figure

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Gains is the gain in top-1 accuracy over ClipFormer off of each (alpha,
// beta) at one gamma.
type Gains struct {
	Alphas []float64   // the rows, ascending
	Betas  []float64   // the columns, ascending
	Gain   [][]float64 // Gain[i][j] for Alphas[i], Betas[j], in points; NaN where not run
	Off    float64     // the untransformed accuracy, %
}

// GainMap draws g as an alpha x beta heat map: a diverging blue-white-
// vermillion scale centred on no gain, each cell labelled with its gain, the
// best cell outlined, the scale beneath. c.Gamma should name the gamma.
func GainMap(w io.Writer, f Format, c Context, g Gains) error {
	ch, err := gainChart(c, g)
	if err != nil {
		return err
	}
	return render(w, f, ch)
}

func gainChart(c Context, g Gains) (*chart, error) {
	if len(g.Alphas) == 0 || len(g.Betas) == 0 {
		return nil, ErrNoData
	}
	if len(g.Gain) != len(g.Alphas) {
		return nil, fmt.Errorf("figure: gain map: %d rows of gains for %d alphas", len(g.Gain), len(g.Alphas))
	}
	limit, any := 0.0, false
	for i, row := range g.Gain {
		if len(row) != len(g.Betas) {
			return nil, fmt.Errorf("figure: gain map: alpha %g has %d gains for %d betas", g.Alphas[i], len(row), len(g.Betas))
		}
		for _, v := range row {
			if !math.IsNaN(v) {
				limit, any = math.Max(limit, math.Abs(v)), true
			}
		}
	}
	if !any {
		return nil, ErrNoData
	}
	limit = math.Max(limit, 0.05) // an all-zero map still gets a scale
	what := fmt.Sprintf("Gain in top-1 accuracy over ClipFormer off (%.2f %%)", g.Off)
	p := newPlot(title(what, c), Beta.label(), "alpha (shift of the conductance, in Gmin)")
	p.X.Tick.Marker = indexTicks(g.Betas)
	p.Y.Tick.Marker = indexTicks(g.Alphas)
	p.X.Min, p.X.Max = -0.5, float64(len(g.Betas))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(g.Alphas))-0.5
	p.Add(&cells{g: g, limit: limit})
	return &chart{p: p, bar: &colorBar{limit: limit, caption: "gain (points of accuracy)"}}, nil
}

// indexTicks puts the grid's values, evenly spaced whatever their spacing,
// at 0, 1, 2, ...
func indexTicks(vs []float64) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ts := make([]plot.Tick, len(vs))
		for i, v := range vs {
			ts[i] = plot.Tick{Value: float64(i), Label: fmt.Sprintf("%g", v)}
		}
		return ts
	})
}

// diverging maps v in [-limit, limit] to blue (loss), white (none),
// vermillion (gain): Okabe-Ito ends, so it reads with any colour vision.
func diverging(v, limit float64) color.RGBA {
	t := math.Max(-1, math.Min(1, v/limit))
	mid := color.RGBA{247, 247, 247, 255}
	end := Vermillion
	if t < 0 {
		t, end = -t, Blue
	}
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + t*(float64(b)-float64(a)))) }
	return color.RGBA{mix(mid.R, end.R), mix(mid.G, end.G), mix(mid.B, end.B), 255}
}

// cells draws the map: one filled path per cell run (in SVG class="cell"
// with the gain as its label), its gain written on it, the best outlined.
type cells struct {
	g     Gains
	limit float64
}

// Plot implements plot.Plotter.
func (cs *cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := textStyle(fontSize)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	bi, bj, best := -1, -1, math.Inf(-1)
	for i, row := range cs.g.Gain {
		for j, v := range row {
			if math.IsNaN(v) {
				sty.Color = color.Gray{Y: 120}
				c.FillText(sty, vg.Point{X: trX(float64(j)), Y: trY(float64(i))}, "not run")
				continue
			}
			if v > best {
				bi, bj, best = i, j, v
			}
			r := vg.Rectangle{Min: vg.Point{X: trX(float64(j) - 0.5), Y: trY(float64(i) - 0.5)},
				Max: vg.Point{X: trX(float64(j) + 0.5), Y: trY(float64(i) + 0.5)}}
			clr := diverging(v, cs.limit)
			c.SetColor(clr)
			tagNext(c, "cell", fmt.Sprintf("alpha=%g beta=%g gain=%+.2f", cs.g.Alphas[i], cs.g.Betas[j], v))
			c.Fill(r.Path())
			sty.Color = Black
			if lum(clr) < 0.45 {
				sty.Color = color.White
			}
			c.FillText(sty, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: (r.Min.Y + r.Max.Y) / 2}, points1(v))
		}
	}
	if bi >= 0 {
		r := vg.Rectangle{Min: vg.Point{X: trX(float64(bj) - 0.5), Y: trY(float64(bi) - 0.5)},
			Max: vg.Point{X: trX(float64(bj) + 0.5), Y: trY(float64(bi) + 0.5)}}
		c.SetLineStyle(draw.LineStyle{Color: Black, Width: vg.Points(2.5)})
		c.Stroke(r.Path())
	}
}

// points1 is a signed gain to 0.1 point, "0.0" for what rounds to zero.
func points1(g float64) string {
	s := fmt.Sprintf("%+.1f", g)
	if s == "+0.0" || s == "-0.0" {
		return "0.0"
	}
	return s
}

// lum is the relative luminance (0 black, 1 white), to pick the text colour.
func lum(c color.RGBA) float64 {
	return (0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)) / 255
}

// colorBar is the gain map's scale: a horizontal strip from -limit to
// +limit, labelled at its ends and at zero.
type colorBar struct {
	limit   float64
	caption string
}

const barHeight = 10 // points

func (b *colorBar) height() vg.Length {
	return vg.Points(barHeight) + 2*textStyle(tickSize).Height("0") + vg.Points(4)
}

func (b *colorBar) draw(c draw.Canvas) {
	const steps = 48
	w := min(c.Max.X-c.Min.X, vg.Points(260))
	x0 := (c.Min.X+c.Max.X)/2 - w/2
	top := c.Max.Y
	for k := range steps {
		v := -b.limit + (float64(k)+0.5)*2*b.limit/steps
		r := vg.Rectangle{Min: vg.Point{X: x0 + w*vg.Length(k)/steps, Y: top - vg.Points(barHeight)},
			Max: vg.Point{X: x0 + w*vg.Length(k+1)/steps + vg.Points(0.3), Y: top}}
		c.SetColor(diverging(v, b.limit))
		c.Fill(r.Path())
	}
	sty := textStyle(tickSize)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	y := top - vg.Points(barHeight+2)
	for _, t := range []float64{-b.limit, 0, b.limit} {
		x := x0 + w*vg.Length((t+b.limit)/(2*b.limit))
		c.FillText(sty, vg.Point{X: x, Y: y}, points1(t))
	}
	c.FillText(sty, vg.Point{X: x0 + w/2, Y: y - sty.Height("0")}, b.caption)
}
