package figure

import (
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// legendEntry is one line's sample and label.
type legendEntry struct {
	label    string
	line     draw.LineStyle
	glyph    draw.GlyphStyle
	noMarker bool
}

const (
	legendGap    = 4  // points between the sample and the label
	legendColGap = 14 // points between columns
	legendRowGap = 3  // points between rows
)

// layoutLegend places the entries in a grid of equal columns, as many as
// fit in width, filled row by row. The rectangles are relative to the
// legend area's top-left corner (x right, y up: every Max.Y <= 0); height
// is the area's height.
func layoutLegend(entries []legendEntry, width vg.Length) (rects []vg.Rectangle, height vg.Length) {
	sty := textStyle(fontSize)
	var colW vg.Length
	for _, e := range entries {
		colW = max(colW, vg.Points(sampleLine+legendGap)+sty.Width(e.label))
	}
	cols := int(math.Floor(float64((width + vg.Points(legendColGap)) / (colW + vg.Points(legendColGap)))))
	cols = max(1, min(cols, len(entries)))
	rows := (len(entries) + cols - 1) / cols
	rowH := max(sty.Height("Mg"), vg.Points(2*glyphSize)) + vg.Points(legendRowGap)
	total := vg.Length(cols)*colW + vg.Length(cols-1)*vg.Points(legendColGap)
	left := max(0, (width-total)/2) // centred under the plot
	for i := range entries {
		r, c := i/cols, i%cols
		x := left + vg.Length(c)*(colW+vg.Points(legendColGap))
		y := -vg.Length(r) * rowH
		rects = append(rects, vg.Rectangle{Min: vg.Point{X: x, Y: y - rowH + vg.Points(legendRowGap)}, Max: vg.Point{X: x + colW, Y: y}})
	}
	return rects, vg.Length(rows) * rowH
}

// drawLegend draws entries in the rectangles layoutLegend gave, below being
// the legend area.
func drawLegend(below draw.Canvas, entries []legendEntry, rects []vg.Rectangle) {
	sty := textStyle(fontSize)
	sty.YAlign = draw.YCenter
	origin := vg.Point{X: below.Min.X, Y: below.Max.Y}
	for i, e := range entries {
		r := vg.Rectangle{Min: rects[i].Min.Add(origin), Max: rects[i].Max.Add(origin)}
		midY := (r.Min.Y + r.Max.Y) / 2
		x0, x1 := r.Min.X, r.Min.X+vg.Points(sampleLine)
		below.StrokeLine2(e.line, x0, midY, x1, midY)
		if !e.noMarker {
			below.DrawGlyphNoClip(e.glyph, vg.Point{X: (x0 + x1) / 2, Y: midY})
		}
		below.FillText(sty, vg.Point{X: x1 + vg.Points(legendGap), Y: midY}, e.label)
	}
}
