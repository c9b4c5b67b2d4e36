// Package figure draws the sweep figures — accuracy and <SNR> against an
// axis with one line per ClipFormer setting, the best setting per gamma, the
// alpha x beta gain map and the SNR per block — from plain data, to PNG or
// SVG. The `plot`, `report` and `run` commands and the web dashboard all
// draw through it, so a figure looks the same wherever it appears.
//
// Every figure follows the same rules: ticks on the grid's values, the
// legend below the data area (never over a point), axes padded so that no
// point, marker or interval bar touches the frame, a colour-blind-safe
// palette (Okabe-Ito) with a marker shape per line as a second cue, and a
// title that says what is plotted and on what (model, granularity, sigma_r).
//
// In SVG, each setting's line is one <path class="series"
// data-series="LABEL">, the upright of each of its interval bars one <path
// class="errbar" data-series="LABEL">, and each cell of a gain map one <path
// class="cell">, so a page or a test can find and count them.
package figure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrNoData is returned when a figure has nothing to draw.
var ErrNoData = errors.New("figure: nothing to plot")

// Format is an output format and size. The zero size is DefaultWidth by
// DefaultHeight.
type Format struct {
	Type          string // "png" or "svg"
	Width, Height vg.Length
}

// The formats at the default size.
var (
	PNG = Format{Type: "png"}
	SVG = Format{Type: "svg"}
)

// Default size; PNGs are drawn at PNGDPI.
const (
	DefaultWidth  = 7 * vg.Inch
	DefaultHeight = 5.5 * vg.Inch
	PNGDPI        = 128
)

// ParseFormat reads "png" or "svg" (any case, a leading dot allowed).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimPrefix(s, ".")) {
	case "png":
		return PNG, nil
	case "svg":
		return SVG, nil
	}
	return Format{}, fmt.Errorf("figure: format %q: want png or svg", s)
}

func (f Format) size() (w, h vg.Length) {
	w, h = f.Width, f.Height
	if w <= 0 {
		w = DefaultWidth
	}
	if h <= 0 {
		h = DefaultHeight
	}
	return w, h
}

// chart is a figure ready to draw: the gonum plot (axes, title, data) and
// what is drawn beneath it, outside the data area.
type chart struct {
	p      *plot.Plot
	legend []legendEntry
	bar    *colorBar // the gain map's colour scale, instead of a legend
	xTicks *gridTicker
	series []*seriesPlot // the lines, for the layout tests
}

// render draws ch onto a canvas of format f and writes it to w.
func render(w io.Writer, f Format, ch *chart) error {
	width, height := f.size()
	switch f.Type {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(PNGDPI))
		ch.draw(draw.New(c))
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	case "svg":
		c := &svgTagger{Canvas: vgsvg.New(width, height)}
		ch.draw(draw.New(c))
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			return err
		}
		_, err := w.Write(c.tagPaths(buf.Bytes()))
		return err
	}
	return fmt.Errorf("figure: format %q: want png or svg", f.Type)
}

// layout splits the canvas into the plot's area and, beneath it, the area
// of the legend (or colour bar), and fits the x tick labels to the width.
func (ch *chart) layout(c draw.Canvas) (plotArea, below draw.Canvas, entries []vg.Rectangle) {
	ch.p.Title.Text = wrapTitle(ch.p.Title.Text, ch.p.Title.TextStyle, c.Max.X-c.Min.X-2*margin)
	belowH := vg.Length(0)
	if len(ch.legend) > 0 {
		entries, belowH = layoutLegend(ch.legend, c.Max.X-c.Min.X-2*margin)
	} else if ch.bar != nil {
		belowH = ch.bar.height()
	}
	if belowH > 0 {
		belowH += margin / 2 // between the x axis's label and the legend
	}
	plotArea = draw.Crop(c, margin, -margin, belowH+margin/2, -margin/2)
	below = c
	below.Min.X += margin
	below.Max.X -= margin
	below.Max.Y = plotArea.Min.Y
	below.Min.Y = below.Max.Y - belowH
	if ch.xTicks != nil {
		dc := ch.p.DataCanvas(plotArea)
		ch.xTicks.fit(dc.Max.X-dc.Min.X, ch.p.X.Max-ch.p.X.Min, ch.p.X.Tick.Label)
	}
	return plotArea, below, entries
}

// draw draws the whole figure onto c.
func (ch *chart) draw(c draw.Canvas) {
	c.SetColor(ch.p.BackgroundColor)
	c.Fill(c.Rectangle.Path())
	plotArea, below, entries := ch.layout(c)
	ch.p.Draw(plotArea)
	if len(ch.legend) > 0 {
		drawLegend(below, ch.legend, entries)
	} else if ch.bar != nil {
		ch.bar.draw(below)
	}
}

// wrapTitle breaks the lines of a title that are wider than width at their
// " · " separators.
func wrapTitle(t string, sty text.Style, width vg.Length) string {
	var out []string
	for _, line := range strings.Split(t, "\n") {
		parts := strings.Split(line, sep)
		cur := parts[0]
		for _, p := range parts[1:] {
			if sty.Width(cur+sep+p) > width {
				out = append(out, cur)
				cur = p
				continue
			}
			cur += sep + p
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// margin is the blank border around the figure and between its parts.
const margin = 8 * vg.Millimeter / 2
