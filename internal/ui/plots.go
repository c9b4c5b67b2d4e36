package ui

// The dashboard's plots: the same figures as `plot`, `report` and `run`
// draw, from internal/figure, as SVG inline in the page. Each setting's
// line is a <path class="series" data-series="LABEL"> and each cell of the
// gain map a <path class="cell">, so that tests can count them.

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"

	"github.com/clipformer/clipformer/internal/figure"
	"github.com/clipformer/clipformer/internal/report"
)

// PlotVersusGamma draws accuracy (or, with snr, <SNR> in dB) against gamma
// (or the swept sigma of a calibration), one line per ClipFormer setting
// (and per value of the other axes), with the 95 % interval of the accuracy
// as error bars. Rows without a complete trial are left out, and so is a
// noise-free SNR (999 dB), which has no finite value to draw; c is what the
// rows were measured on (report.FigureContext).
func PlotVersusGamma(c figure.Context, rows []report.Row, snr bool) template.HTML {
	q := figure.Accuracy
	if snr {
		q, rows = figure.MeanSNR, withoutNoiseFree(rows)
	}
	x, series := report.LineSeries(rows, q)
	return inlineSVG(func(w io.Writer) error {
		return figure.Lines(w, figure.SVG, c, x, q, finitePoints(series))
	}, "nothing to plot yet: no point has a complete trial")
}

// PlotGainHeatmap draws, at one gamma, the accuracy gain in points of each
// (alpha, beta) over the untransformed model as an alpha x beta grid of
// cells, for the first combination of the other axes.
func PlotGainHeatmap(c figure.Context, rows []report.Row, gamma float64) template.HTML {
	return inlineSVG(func(w io.Writer) error {
		return report.DrawFigure(w, figure.SVG, rows, c, report.FigureRequest{Name: "gain", Gamma: gamma, HasGamma: true})
	}, "no gain to show yet: needs the untransformed point and a ClipFormer point at this gamma")
}

// PlotBestPerGamma draws, against gamma, the untransformed accuracy and
// that of the best ClipFormer setting at each gamma, that setting named
// under its gamma, for the first combination of the other axes.
func PlotBestPerGamma(c figure.Context, rows []report.Row) template.HTML {
	return inlineSVG(func(w io.Writer) error {
		return report.DrawFigure(w, figure.SVG, rows, c, report.FigureRequest{Name: "best"})
	}, "nothing to plot yet: no point has a complete trial")
}

// PlotBlockSNR draws the SNR of each transformer block at one gamma, one
// line per setting; noise-free blocks (999 dB) are left out.
func PlotBlockSNR(c figure.Context, rows []report.Row, gamma float64) template.HTML {
	series := report.SettingBlockSeries(withoutNoiseFree(rows), gamma)
	return inlineSVG(func(w io.Writer) error {
		return figure.Lines(w, figure.SVG, c.At(gamma), figure.Block, figure.SNR, finitePoints(series))
	}, "no block SNR at this gamma yet")
}

// noiseFree is the SNR the results give a point without noise.
const noiseFree = 999

// withoutNoiseFree is rows with every noise-free SNR (mean and per block)
// made NaN, for finitePoints to drop: the figures would otherwise draw it at
// the top of the axis.
func withoutNoiseFree(rows []report.Row) []report.Row {
	out := slices.Clone(rows)
	for i := range out {
		r := &out[i]
		if r.SNR == noiseFree {
			r.SNR = math.NaN()
		}
		if slices.Contains(r.BlockSNR, noiseFree) {
			r.BlockSNR = slices.Clone(r.BlockSNR)
			for k, v := range r.BlockSNR {
				if v == noiseFree {
					r.BlockSNR[k] = math.NaN()
				}
			}
		}
	}
	return out
}

// finitePoints is series without their NaN points, and without the series
// left empty.
func finitePoints(series []figure.Series) []figure.Series {
	var out []figure.Series
	for _, s := range series {
		s.Points = slices.DeleteFunc(slices.Clone(s.Points), func(p figure.Point) bool { return math.IsNaN(p.Y) })
		if len(s.Points) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// inlineSVG runs draw into a buffer and returns the SVG ready to sit in an
// HTML5 page: without the XML prolog, with the class the page's style
// sizes it by. Nothing to draw gives a note saying empty (or, for another
// error, the error).
func inlineSVG(draw func(io.Writer) error, empty string) template.HTML {
	var b bytes.Buffer
	if err := draw(&b); err != nil {
		if errors.Is(err, figure.ErrNoData) {
			return emptyPlot(empty)
		}
		return emptyPlot(err.Error())
	}
	svg := b.Bytes()
	i := bytes.Index(svg, []byte("<svg"))
	if i < 0 {
		return emptyPlot("the figure drew no SVG")
	}
	// The <svg> element onwards: HTML5 takes no XML declaration, and the
	// generator's comment before it serves no one.
	svg = svg[i+len("<svg"):]
	return template.HTML(`<svg class="plot" role="img"` + string(svg))
}

func emptyPlot(msg string) template.HTML {
	return template.HTML(fmt.Sprintf(`<svg class="plot empty" viewBox="0 0 640 60" role="img"><text x="8" y="34">%s</text></svg>`,
		template.HTMLEscapeString(msg)))
}

// gammaTicks is the rows' gammas, ascending.
func gammaTicks(rows []report.Row) []float64 {
	var t []float64
	for _, r := range rows {
		if !slices.Contains(t, r.Gamma) {
			t = append(t, r.Gamma)
		}
	}
	sort.Float64s(t)
	return t
}
