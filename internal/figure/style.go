package figure

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Okabe-Ito: eight colours told apart with any of the common colour-vision
// deficiencies (Okabe and Ito 2008). Black is kept for the untransformed
// reference line; yellow comes last as it is faint on white.
var (
	Black         = color.RGBA{0, 0, 0, 255}
	Orange        = color.RGBA{230, 159, 0, 255}
	SkyBlue       = color.RGBA{86, 180, 233, 255}
	BluishGreen   = color.RGBA{0, 158, 115, 255}
	Yellow        = color.RGBA{240, 228, 66, 255}
	Blue          = color.RGBA{0, 114, 178, 255}
	Vermillion    = color.RGBA{213, 94, 0, 255}
	ReddishPurple = color.RGBA{204, 121, 167, 255}
)

// lightGrey draws the grid.
var lightGrey = color.Gray{Y: 225}

// Palette is the order in which lines take their colours.
var Palette = []color.RGBA{Blue, Vermillion, BluishGreen, ReddishPurple, Orange, SkyBlue, Yellow}

// shapes give each line a marker of its own, a cue that survives greyscale.
var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{},
	draw.RingGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{}}

const (
	lineWidth  = 1.75 // points
	errWidth   = 1    // points
	capWidth   = 6    // points
	glyphSize  = 3.5  // points, radius
	fontSize   = 10   // points
	titleSize  = 12   // points
	tickSize   = 9    // points
	sampleLine = 26   // points: the legend's line sample
)

// seriesStyle is the line and marker of the i-th line; reference lines
// (ClipFormer off) are black and dashed.
func seriesStyle(i int, reference bool) (draw.LineStyle, draw.GlyphStyle) {
	var clr color.Color = Palette[i%len(Palette)]
	var dashes []vg.Length
	if reference {
		clr, dashes = Black, []vg.Length{vg.Points(6), vg.Points(3)}
	} else if n := i / len(Palette); n > 0 {
		dashes = [][]vg.Length{nil, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(3)}}[n%3]
	}
	line := draw.LineStyle{Color: clr, Width: vg.Points(lineWidth), Dashes: dashes}
	shape := shapes[i%len(shapes)]
	if reference {
		shape = draw.RingGlyph{}
	}
	return line, draw.GlyphStyle{Color: clr, Radius: vg.Points(glyphSize), Shape: shape}
}

// textStyle is the figures' text at size pt.
func textStyle(pt vg.Length) text.Style {
	return text.Style{Color: Black, Font: font.From(plot.DefaultFont, pt), Handler: plot.DefaultTextHandler}
}

// newPlot is a plot with the figures' fonts, title and grid-free axes.
func newPlot(titleText, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = titleText
	p.Title.TextStyle.Font = font.From(plot.DefaultFont, titleSize)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(plot.DefaultFont, fontSize)
		a.Tick.Label.Font = font.From(plot.DefaultFont, tickSize)
		a.Padding = vg.Points(4)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	return p
}
