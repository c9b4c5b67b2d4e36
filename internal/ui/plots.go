package ui

// The dashboard's plots, drawn as inline SVG. Every plot the pages show
// goes through the four functions at the top of this file, so that they can
// later be drawn by a shared plotting module instead; each line is a
// <polyline class="series" data-setting="..."> so that tests can count
// them.

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/clipformer/clipformer/internal/report"
)

// PlotVersusGamma draws accuracy (or, with snr, <SNR> in dB) against gamma,
// one line per ClipFormer setting (and per value of the other axes), with
// the 95 % interval of the accuracy as error bars. Rows without a complete
// trial are left out; nothing to draw gives an empty plot with a note.
func PlotVersusGamma(rows []report.Row, snr bool) template.HTML {
	var lines []line
	for _, s := range settings(rows) {
		l := line{label: s.label}
		for _, r := range s.rows {
			y, e := r.Accuracy, r.CI95
			if snr {
				y, e = r.SNR, 0
				if y == 999 { // noise-free: no finite SNR to draw
					continue
				}
			}
			l.pts = append(l.pts, pt{x: r.Gamma, y: y, err: e})
		}
		if len(l.pts) > 0 {
			lines = append(lines, l)
		}
	}
	if snr {
		return drawLines(lines, "gamma", "<SNR> dB", gammaTicks(rows), false, noLimit)
	}
	return drawLines(lines, "gamma", "accuracy %", gammaTicks(rows), false, percent)
}

// PlotGainHeatmap draws, at one gamma, the accuracy gain in points of each
// (alpha, beta) over the untransformed model as an alpha x beta grid of
// cells (class="cell"), greener for a larger gain. Rows of other axes than
// the first combination found are left out.
func PlotGainHeatmap(rows []report.Row, gamma float64) template.HTML {
	var off *report.Row
	cells := map[[2]float64]float64{}
	var alphas, betas []float64
	for i := range rows {
		r := &rows[i]
		if r.Gamma != gamma || r.Trials == 0 {
			continue
		}
		if !r.ClipOn {
			if off == nil {
				off = r
			}
			continue
		}
		cells[[2]float64{r.Alpha, r.Beta}] = r.Accuracy
		alphas, betas = addUnique(alphas, r.Alpha), addUnique(betas, r.Beta)
	}
	if off == nil || len(cells) == 0 {
		return emptyPlot("no gain to show yet: needs the untransformed point and a ClipFormer point at this gamma")
	}
	sort.Float64s(alphas)
	sort.Float64s(betas)
	return drawHeatmap(alphas, betas, func(a, b float64) (float64, bool) {
		acc, ok := cells[[2]float64{a, b}]
		return acc - off.Accuracy, ok
	})
}

// PlotBestPerGamma draws, against gamma, the untransformed accuracy and
// that of the best ClipFormer setting at each gamma, that setting named
// beside its point.
func PlotBestPerGamma(best []report.Best) template.HTML {
	off, clip := line{label: "off"}, line{label: "best ClipFormer"}
	var ticks []float64
	for _, b := range best {
		if b.Others != "" && b.Others != best[0].Others {
			continue // one combination of the other axes: the first
		}
		ticks = addUnique(ticks, b.Gamma)
		if b.Off != nil {
			off.pts = append(off.pts, pt{x: b.Gamma, y: b.Off.Accuracy, err: b.Off.CI95})
		}
		if b.Clip != nil {
			clip.pts = append(clip.pts, pt{x: b.Gamma, y: b.Clip.Accuracy, err: b.Clip.CI95,
				note: fmt.Sprintf("(%g, %g)", b.Clip.Alpha, b.Clip.Beta)})
		}
	}
	var lines []line
	for _, l := range []line{off, clip} {
		if len(l.pts) > 0 {
			lines = append(lines, l)
		}
	}
	sort.Float64s(ticks)
	return drawLines(lines, "gamma", "accuracy %", ticks, false, percent)
}

// PlotBlockSNR draws the SNR of each transformer block at one gamma, one
// line per setting.
func PlotBlockSNR(rows []report.Row, gamma float64) template.HTML {
	var lines []line
	blocks := 0
	for _, s := range settings(rows) {
		for _, r := range s.rows {
			if r.Gamma != gamma || len(r.BlockSNR) == 0 {
				continue
			}
			l := line{label: s.label}
			for b, v := range r.BlockSNR {
				if v != 999 {
					l.pts = append(l.pts, pt{x: float64(b), y: v})
				}
			}
			if len(l.pts) > 0 {
				lines = append(lines, l)
			}
			blocks = max(blocks, len(r.BlockSNR))
		}
	}
	ticks := make([]float64, blocks)
	for b := range ticks {
		ticks[b] = float64(b)
	}
	return drawLines(lines, "block", "SNR dB", ticks, true, noLimit)
}

// setting is the rows of one line: one ClipFormer setting and one value
// of every other axis, in gamma order.
type setting struct {
	label string
	rows  []report.Row
}

// settings groups rows by ClipFormer setting and the other axes, "off"
// first, in the order the grid lists them.
func settings(rows []report.Row) []setting {
	var out []setting
	index := map[string]int{}
	for _, r := range rows {
		if r.Trials == 0 {
			continue
		}
		label := r.Clip
		for _, o := range []string{axisValue("sigma_r", r.SigmaR, rows, func(x report.Row) float64 { return x.SigmaR }),
			axisValue("sigma_w", r.SigmaW, rows, func(x report.Row) float64 { return x.SigmaW }), r.Device} {
			if o != "" {
				label += ", " + o
			}
		}
		i, ok := index[label]
		if !ok {
			i = len(out)
			index[label] = i
			out = append(out, setting{label: label})
		}
		out[i].rows = append(out[i].rows, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.HasPrefix(out[i].label, "off") && !strings.HasPrefix(out[j].label, "off")
	})
	for _, s := range out {
		sort.SliceStable(s.rows, func(i, j int) bool { return s.rows[i].Gamma < s.rows[j].Gamma })
	}
	return out
}

// axisValue names an axis's value when the axis varies over rows.
func axisValue(name string, v float64, rows []report.Row, f func(report.Row) float64) string {
	for _, r := range rows {
		if f(r) != v {
			return name + "=" + strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return ""
}

func gammaTicks(rows []report.Row) []float64 {
	var t []float64
	for _, r := range rows {
		t = addUnique(t, r.Gamma)
	}
	sort.Float64s(t)
	return t
}

func addUnique(s []float64, v float64) []float64 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// The drawing: a small fixed-size canvas, scaled to its container by the
// browser (viewBox).

// palette is Okabe and Ito's colour-blind-safe one; past eight lines the
// dashes tell lines apart.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

var dashes = []string{"", "6 3", "2 3", "8 3 2 3"}

type pt struct {
	x, y, err float64
	note      string
}

type line struct {
	label string
	pts   []pt
}

// Canvas geometry: the data area, and a legend below it so that it never
// covers a point.
const (
	plotW, plotH            = 640, 300
	padL, padR, padT, padB  = 56, 16, 12, 40
	legendRow, legendColumn = 18, 210
)

func emptyPlot(msg string) template.HTML {
	return template.HTML(fmt.Sprintf(`<svg class="plot" viewBox="0 0 %d 60" role="img"><text x="8" y="34" class="note">%s</text></svg>`,
		plotW, template.HTMLEscapeString(msg)))
}

// limit bounds what a y axis can show: an accuracy's error bar stops at
// 0 and 100 %, however wide a two-trial interval is.
type limit struct{ lo, hi float64 }

var (
	percent = limit{0, 100}
	noLimit = limit{math.Inf(-1), math.Inf(1)}
)

func (l limit) clamp(v float64) float64 { return min(max(v, l.lo), l.hi) }

// drawLines draws lines on axes x (ticked at xticks) and y, error bars
// included (within ylim), the legend below.
func drawLines(lines []line, xlabel, ylabel string, xticks []float64, intTicks bool, ylim limit) template.HTML {
	if len(lines) == 0 {
		return emptyPlot("nothing to plot yet: no point has a complete trial")
	}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, p := range l.pts {
			x0, x1 = min(x0, p.x), max(x1, p.x)
			y0, y1 = min(y0, ylim.clamp(p.y-p.err)), max(y1, ylim.clamp(p.y+p.err))
		}
	}
	if x1 == x0 {
		x0, x1 = x0-1, x1+1
	}
	yticks := niceTicks(y0, y1)
	y0, y1 = min(y0, ylim.clamp(yticks[0])), max(y1, ylim.clamp(yticks[len(yticks)-1]))
	if y1 == y0 {
		y0, y1 = y0-1, y1+1
	}
	// The data keep a margin inside the frame so that no marker or error
	// bar is clipped.
	mx, my := (x1-x0)*0.04, (y1-y0)*0.04
	x0, x1, y0, y1 = x0-mx, x1+mx, y0-my, y1+my
	sx := func(x float64) float64 { return padL + (x-x0)/(x1-x0)*(plotW-padL-padR) }
	sy := func(y float64) float64 { return padT + (y1-y)/(y1-y0)*(plotH-padT-padB) }

	legendCols := (plotW - padL) / legendColumn
	legendRows := (len(lines) + legendCols - 1) / legendCols
	height := plotH + legendRows*legendRow + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" viewBox="0 0 %d %d" role="img" aria-label="%s versus %s">`, plotW, height, ylabel, xlabel)
	fmt.Fprintf(&b, `<rect class="frame" x="%d" y="%d" width="%d" height="%d"/>`, padL, padT, plotW-padL-padR, plotH-padT-padB)
	for _, t := range xticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/><text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			sx(t), sx(t), padT, plotH-padB, sx(t), plotH-padB+14, tickLabel(t, intTicks))
	}
	for _, t := range yticks {
		if t < y0 || t > y1 {
			continue
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, plotW-padR, sy(t), sy(t), padL-4, sy(t)+4, strconv.FormatFloat(t, 'g', 4, 64))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d" text-anchor="middle">%s</text>`, (plotW+padL)/2, plotH-6, template.HTMLEscapeString(xlabel))
	fmt.Fprintf(&b, `<text class="axis" transform="translate(14 %d) rotate(-90)" text-anchor="middle">%s</text>`, (plotH-padB+padT)/2, template.HTMLEscapeString(ylabel))
	for i, l := range lines {
		colour, dash := palette[i%len(palette)], dashes[(i/len(palette))%len(dashes)]
		var pts []string
		for _, p := range l.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(p.x), sy(p.y)))
		}
		label := template.HTMLEscapeString(l.label)
		fmt.Fprintf(&b, `<g style="color:%s"><polyline class="series" data-setting="%s" points="%s" stroke-dasharray="%s"/>`,
			colour, label, strings.Join(pts, " "), dash)
		for _, p := range l.pts {
			if p.err > 0 {
				fmt.Fprintf(&b, `<line class="errbar" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, sx(p.x), sx(p.x), sy(ylim.clamp(p.y-p.err)), sy(ylim.clamp(p.y+p.err)))
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3"><title>%s: %s, %.4g</title></circle>`, sx(p.x), sy(p.y), label,
				strconv.FormatFloat(p.x, 'g', -1, 64), p.y)
			if p.note != "" {
				fmt.Fprintf(&b, `<text class="note" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, sx(p.x), sy(p.y)+16, template.HTMLEscapeString(p.note))
			}
		}
		lx, ly := padL+(i%legendCols)*legendColumn, plotH+(i/legendCols)*legendRow+6
		fmt.Fprintf(&b, `<line class="key" x1="%d" x2="%d" y1="%d" y2="%d" stroke-dasharray="%s"/><text class="legend" x="%d" y="%d">%s</text></g>`,
			lx, lx+22, ly, ly, dash, lx+28, ly+4, label)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func tickLabel(t float64, integer bool) string {
	if integer {
		return strconv.Itoa(int(t))
	}
	return strconv.FormatFloat(t, 'g', -1, 64)
}

// niceTicks picks about five round values covering [lo, hi].
func niceTicks(lo, hi float64) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/4)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 5 {
			step *= m
			break
		}
	}
	var t []float64
	for v := math.Floor(lo/step) * step; v <= hi+step/2; v += step {
		t = append(t, math.Round(v/step)*step)
	}
	return t
}

// drawHeatmap draws gain(alpha, beta) as cells, alpha down, beta across,
// each cell labelled with its value.
func drawHeatmap(alphas, betas []float64, gain func(a, b float64) (float64, bool)) template.HTML {
	const cw, ch, left, top = 72, 28, 72, 28
	w, h := left+cw*len(betas)+8, top+ch*len(alphas)+24
	span := 0.0
	for _, a := range alphas {
		for _, bt := range betas {
			if g, ok := gain(a, bt); ok {
				span = max(span, math.Abs(g))
			}
		}
	}
	span = max(span, 1e-9)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot heat" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="gain over off, alpha by beta">`, w, h, w, h)
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="14" text-anchor="middle">beta</text><text class="axis" x="4" y="%d">alpha</text>`, left+cw*len(betas)/2, top-6)
	for j, bt := range betas {
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="middle">%g</text>`, left+cw*j+cw/2, top-6, bt)
	}
	for i, a := range alphas {
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%g</text>`, left-6, top+ch*i+ch/2+4, a)
		for j, bt := range betas {
			g, ok := gain(a, bt)
			if !ok {
				continue
			}
			// Blue for a loss, green for a gain (Okabe-Ito), stronger with size.
			colour, alpha := "0,158,115", math.Abs(g)/span
			if g < 0 {
				colour = "0,114,178"
			}
			fmt.Fprintf(&b, `<rect class="cell" data-alpha="%g" data-beta="%g" x="%d" y="%d" width="%d" height="%d" fill="rgba(%s,%.2f)"/>`,
				a, bt, left+cw*j, top+ch*i, cw-2, ch-2, colour, 0.15+0.85*alpha)
			fmt.Fprintf(&b, `<text class="cellv" x="%d" y="%d" text-anchor="middle">%+.2f</text>`, left+cw*j+cw/2, top+ch*i+ch/2+4, g)
		}
	}
	fmt.Fprintf(&b, `<text class="note" x="4" y="%d">accuracy gain over off, points</text></svg>`, h-6)
	return template.HTML(b.String())
}
