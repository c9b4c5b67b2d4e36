package figure

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

var ctx = Context{Model: "vit-mnist", Dataset: "mnist", Granularity: []string{"slice"}, SigmaR: []float64{0.05}}

// study is ClipFormer off and two settings over gamma 0..5, the points at
// gamma 0 in the top-left corner where a legend inside the data used to sit,
// with intervals reaching the top and bottom of the data.
func study() []Series {
	off := Series{Label: "ClipFormer off", Reference: true}
	a := Series{Label: "alpha=2 beta=0.25"}
	b := Series{Label: "alpha=4 beta=0.125"}
	for g := 0; g <= 5; g++ {
		x := float64(g)
		off.Points = append(off.Points, Point{X: x, Y: 98 - x*x, Err: 0.5 + x/5})
		a.Points = append(a.Points, Point{X: x, Y: 98.5 - 0.7*x*x, Err: 1})
		b.Points = append(b.Points, Point{X: x, Y: 97.5 - 0.8*x*x, Err: 0.2})
	}
	return []Series{off, a, b}
}

func bestPoints() []BestPoint {
	var bp []BestPoint
	for g := 0; g <= 5; g++ {
		x := float64(g)
		bp = append(bp, BestPoint{Gamma: x, HasOff: true, Off: 98 - x*x, OffErr: 0.4, HasBest: true,
			Best: 98.4 - 0.6*x*x, BestErr: 1.2, Alpha: []float64{1.5, 2, 1, 4, 3, 4}[g], Beta: []float64{1, 1, 0.75, 1, 0.25, 0.25}[g]})
	}
	return bp
}

func gains() Gains {
	g := Gains{Alphas: []float64{1, 1.5, 2, 3, 4}, Betas: []float64{0.125, 0.25, 0.375, 0.5, 0.75, 1}, Off: 59.3}
	for i := range g.Alphas {
		row := make([]float64, len(g.Betas))
		for j := range row {
			row[j] = 10 * math.Sin(float64(3*i+j))
		}
		g.Gain = append(g.Gain, row)
	}
	g.Gain[1][2] = math.NaN() // not run
	return g
}

// The x ticks are the grid's values and nothing else: gamma 0, 1, ..., 5
// (not 0.00 / 2.50 / 5.00), beta 0.125, 0.25, ... (not 0.2 / 0.6 / 1.0).
func TestTicksFallOnTheGridValues(t *testing.T) {
	betas := []float64{1, 0.75, 0.5, 0.375, 0.25, 0.125}
	var perAlpha []Series
	for _, a := range []float64{1, 2} {
		s := Series{Label: fmt.Sprintf("alpha=%g", a)}
		for i := len(betas) - 1; i >= 0; i-- {
			s.Points = append(s.Points, Point{X: betas[i], Y: 60 + a*betas[i], Err: 1})
		}
		perAlpha = append(perAlpha, s)
	}
	for _, tc := range []struct {
		name   string
		build  func() (*chart, error)
		values []float64
		labels []string
	}{
		{"accuracy against gamma", func() (*chart, error) { return linesChart(ctx, Gamma, Accuracy, study()) },
			[]float64{0, 1, 2, 3, 4, 5}, []string{"0", "1", "2", "3", "4", "5"}},
		{"accuracy against beta", func() (*chart, error) { return linesChart(ctx, Beta, Accuracy, perAlpha) },
			[]float64{0.125, 0.25, 0.375, 0.5, 0.75, 1}, []string{"0.125", "0.25", "0.375", "0.5", "0.75", "1"}},
		{"best per gamma", func() (*chart, error) { return bestChart(ctx, bestPoints()) },
			[]float64{0, 1, 2, 3, 4, 5}, []string{"0\n(1.5, 1)", "1\n(2, 1)", "2\n(1, 0.75)", "3\n(4, 1)", "4\n(3, 0.25)", "5\n(4, 0.25)"}},
	} {
		ch, err := tc.build()
		if err != nil {
			t.Fatal(err)
		}
		ch.layout(testCanvas(DefaultWidth, DefaultHeight))
		var values []float64
		var labels []string
		for _, tk := range ch.p.X.Tick.Marker.Ticks(ch.p.X.Min, ch.p.X.Max) {
			values, labels = append(values, tk.Value), append(labels, tk.Label)
		}
		if !reflect.DeepEqual(values, tc.values) || !reflect.DeepEqual(labels, tc.labels) {
			t.Errorf("%s: ticks %v %q, want %v %q", tc.name, values, labels, tc.values, tc.labels)
		}
	}
}

// On a narrow figure, labels that would run into each other are left out;
// every grid value keeps its tick mark.
func TestTickLabelsThinOutWhenTheyWouldOverlap(t *testing.T) {
	tk := newGridTicker([]float64{0.125, 0.25, 0.375, 0.5, 0.75, 1}, nil)
	tk.fit(vg.Points(60), 0.875, textStyle(tickSize))
	ticks := tk.Ticks(0, 1)
	shown := 0
	for _, x := range ticks {
		if x.Label != "" {
			shown++
		}
	}
	if len(ticks) != 6 || shown == 6 || ticks[0].Label != "0.125" {
		t.Fatalf("60 pt wide: ticks %v, want 6 ticks with some labels left out and the first kept", ticks)
	}
	tk.fit(vg.Points(500), 0.875, textStyle(tickSize))
	for _, x := range tk.Ticks(0, 1) {
		if x.Label == "" {
			t.Fatalf("500 pt wide: label of %v left out", x.Value)
		}
	}
}

func TestNiceTicksAreRoundSteps(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		n      int
		want   []string
	}{
		{56.3, 99.1, 8, []string{"60", "70", "80", "90"}},
		{-11.2, -0.8, 6, []string{"-10", "-8", "-6", "-4", "-2"}},
		{0.21, 0.79, 4, []string{"0.4", "0.6"}},
		{0, 10, 4, []string{"0.0", "2.5", "5.0", "7.5", "10.0"}},
	} {
		var got []string
		for _, tk := range niceTicks(tc.n).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("[%v, %v] in about %d: ticks %q, want %q", tc.lo, tc.hi, tc.n, got, tc.want)
		}
	}
}

// testCanvas is a canvas that records nothing useful but has the size.
func testCanvas(w, h vg.Length) draw.Canvas {
	return draw.NewCanvas(&recorder.Canvas{}, w, h)
}

// In canvas coordinates: no legend entry intersects any point's marker or
// interval bar, every marker and bar lies inside the data area (nothing
// clipped by the frame), and everything lies inside the figure, on a
// laptop-sized figure and on a phone-sized one.
func TestLegendCoversNoPointAndNothingIsClipped(t *testing.T) {
	sizes := []struct{ w, h vg.Length }{{DefaultWidth, DefaultHeight}, {vg.Points(300), vg.Points(360)}}
	builds := map[string]func() (*chart, error){
		"lines": func() (*chart, error) { return linesChart(ctx, Gamma, Accuracy, study()) },
		"best":  func() (*chart, error) { return bestChart(ctx, bestPoints()) },
	}
	for name, build := range builds {
		for _, sz := range sizes {
			ch, err := build()
			if err != nil {
				t.Fatal(err)
			}
			c := testCanvas(sz.w, sz.h)
			plotArea, below, entries := ch.layout(c)
			data := ch.p.DataCanvas(plotArea)
			var points []vg.Rectangle
			for _, sp := range ch.series {
				points = append(points, sp.boxes(data, ch.p)...)
			}
			want := 0
			for _, sp := range ch.series {
				want += len(sp.s.Points)
			}
			if len(points) != want || len(entries) != len(ch.series) {
				t.Fatalf("%s: %d point boxes, %d legend entries", name, len(points), len(entries))
			}
			for i, e := range entries {
				e = vg.Rectangle{Min: e.Min.Add(vg.Point{X: below.Min.X, Y: below.Max.Y}), Max: e.Max.Add(vg.Point{X: below.Min.X, Y: below.Max.Y})}
				if !inside(e, c.Rectangle) {
					t.Errorf("%s %vx%v: legend entry %d %v outside the figure %v", name, sz.w, sz.h, i, e, c.Rectangle)
				}
				for _, p := range points {
					if overlaps(e, p) {
						t.Errorf("%s %vx%v: legend entry %d %v covers the point box %v", name, sz.w, sz.h, i, e, p)
					}
				}
			}
			for _, p := range points {
				if !inside(p, data.Rectangle) {
					t.Errorf("%s %vx%v: point box %v reaches outside the data area %v", name, sz.w, sz.h, p, data.Rectangle)
				}
			}
		}
	}
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func inside(a, b vg.Rectangle) bool {
	return a.Min.X >= b.Min.X && a.Max.X <= b.Max.X && a.Min.Y >= b.Min.Y && a.Max.Y <= b.Max.Y
}

// svgDoc is what the tests read of an SVG: its paths and its text.
type svgDoc struct {
	paths []map[string]string // attributes of each <path>
	text  string              // all <text> content, lines joined by "\n"
}

// parseSVG checks that b is well-formed XML with an <svg> root.
func parseSVG(t *testing.T, b []byte) svgDoc {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var doc svgDoc
	var texts []string
	root, inText := "", false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			inText = el.Name.Local == "text"
			if el.Name.Local == "path" {
				attrs := map[string]string{}
				for _, a := range el.Attr {
					attrs[a.Name.Local] = a.Value
				}
				doc.paths = append(doc.paths, attrs)
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	doc.text = strings.Join(texts, "\n")
	return doc
}

func (d svgDoc) tagged(class string) []map[string]string {
	var out []map[string]string
	for _, p := range d.paths {
		if p["class"] == class {
			out = append(out, p)
		}
	}
	return out
}

// Each setting is one <path class="series" data-series="LABEL"> in its own
// colour (the tag lands on the line, not on a marker or a bar), so a page can
// count the lines.
func TestSVGHasOnePathPerSetting(t *testing.T) {
	var b bytes.Buffer
	ss := study()
	if err := Lines(&b, SVG, ctx, Gamma, Accuracy, ss); err != nil {
		t.Fatal(err)
	}
	lines := parseSVG(t, b.Bytes()).tagged("series")
	if len(lines) != len(ss) {
		t.Fatalf("%d series paths, want %d", len(lines), len(ss))
	}
	for i, l := range lines {
		idx := i - 1 // the reference (first) takes no palette colour
		if ss[i].Reference {
			idx = 0
		}
		line, _ := seriesStyle(idx, ss[i].Reference)
		r, g, bl, _ := line.Color.RGBA()
		colour := fmt.Sprintf("stroke:#%02X%02X%02X", r>>8, g>>8, bl>>8)
		if l["data-series"] != ss[i].Label || !strings.Contains(l["style"], colour) || strings.Count(l["d"], "L") != len(ss[i].Points)-1 {
			t.Errorf("series path %d: %v, want label %q, %s and a line through %d points", i, l, ss[i].Label, colour, len(ss[i].Points))
		}
	}
	// One tagged interval bar per point with an interval, on its own line.
	bars := map[string]int{}
	for _, bar := range parseSVG(t, b.Bytes()).tagged("errbar") {
		bars[bar["data-series"]]++
	}
	for _, s := range ss {
		want := 0
		for _, p := range s.Points {
			if p.Err != 0 {
				want++
			}
		}
		if bars[s.Label] != want {
			t.Errorf("series %q: %d interval bars tagged, want %d", s.Label, bars[s.Label], want)
		}
	}

	b.Reset()
	if err := Best(&b, SVG, ctx, bestPoints()); err != nil {
		t.Fatal(err)
	}
	if n := len(parseSVG(t, b.Bytes()).tagged("series")); n != 2 {
		t.Fatalf("best figure: %d series paths, want 2 (off and best)", n)
	}

	b.Reset()
	if err := GainMap(&b, SVG, ctx.At(5), gains()); err != nil {
		t.Fatal(err)
	}
	if n := len(parseSVG(t, b.Bytes()).tagged("cell")); n != 5*6-1 {
		t.Fatalf("gain map: %d cells, want 29 (30 less the one not run)", n)
	}
}

// The SVG's text names FontFamily, in the regular face FontTTF holds, so a
// page serving FontTTF under that name shows the text as it was laid out.
func TestSVGTextIsInTheFontServed(t *testing.T) {
	var b bytes.Buffer
	if err := Lines(&b, SVG, ctx, Gamma, Accuracy, study()); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	texts := strings.Count(svg, "<text")
	if texts == 0 || strings.Count(svg, "font-family:"+FontFamily+";") != texts ||
		strings.Count(svg, "font-weight:normal;font-style:normal") != texts {
		t.Errorf("of %d texts, %d name %q, %d are regular", texts, strings.Count(svg, "font-family:"+FontFamily+";"), FontFamily,
			strings.Count(svg, "font-weight:normal;font-style:normal"))
	}
	if len(FontTTF) < 1000 || string(FontTTF[:4]) != "\x00\x01\x00\x00" {
		t.Errorf("FontTTF is not a TrueType font (%d bytes)", len(FontTTF))
	}
}

// An accuracy's interval bar stops at 0 and 100 %: two trials can give an
// interval far wider than the accuracy's range, which would stretch the
// axis past what an accuracy can be. Other quantities are not bounded.
func TestAccuracyIntervalsStopAtZeroAndAHundred(t *testing.T) {
	ss := []Series{{Label: "off", Points: []Point{{X: 0, Y: 98, Err: 40}, {X: 2, Y: 5, Err: 30}}}}
	for _, draw := range []struct {
		name   string
		chart  func() (*chart, error)
		lo, hi float64
	}{
		{"accuracy", func() (*chart, error) { return linesChart(ctx, Gamma, Accuracy, ss) }, 0, 100},
		{"best", func() (*chart, error) {
			return bestChart(ctx, []BestPoint{{Gamma: 0, HasOff: true, Off: 98, OffErr: 40}, {Gamma: 2, HasOff: true, Off: 5, OffErr: 30}})
		}, 0, 100},
		{"snr", func() (*chart, error) { return linesChart(ctx, Gamma, MeanSNR, ss) }, -25, 138},
	} {
		ch, err := draw.chart()
		if err != nil {
			t.Fatal(err)
		}
		pad := 0.06 * (draw.hi - draw.lo)
		if math.Abs(ch.p.Y.Min-(draw.lo-pad)) > 1e-9 || math.Abs(ch.p.Y.Max-(draw.hi+pad)) > 1e-9 {
			t.Errorf("%s: y axis %g to %g, want %g to %g padded by %g", draw.name, ch.p.Y.Min, ch.p.Y.Max, draw.lo, draw.hi, pad)
		}
	}
}

// Titles say what is plotted and on what: model, granularity, sigma_r, and
// the gamma of a figure at one gamma.
func TestTitlesNameModelGranularityAndSigmaR(t *testing.T) {
	draws := map[string]func(io.Writer) error{
		"lines": func(w io.Writer) error { return Lines(w, SVG, ctx, Gamma, MeanSNR, study()) },
		"best":  func(w io.Writer) error { return Best(w, SVG, ctx, bestPoints()) },
		"gain":  func(w io.Writer) error { return GainMap(w, SVG, ctx.At(5), gains()) },
		"block": func(w io.Writer) error { return Lines(w, SVG, ctx.At(5), Block, SNR, study()) },
	}
	for name, d := range draws {
		var b bytes.Buffer
		if err := d(&b); err != nil {
			t.Fatal(err)
		}
		text := parseSVG(t, b.Bytes()).text
		for _, want := range []string{"vit-mnist on mnist", "granularity slice", "sigma_r 0.05"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: title lacks %q; text:\n%s", name, want, text)
			}
		}
		if (name == "gain" || name == "block") && !strings.Contains(text, "gamma 5") {
			t.Errorf("%s: title lacks the gamma; text:\n%s", name, text)
		}
	}
}

// A title too wide for the figure wraps at its separators rather than
// running off the edge.
func TestLongTitlesWrap(t *testing.T) {
	sty := textStyle(titleSize)
	long := title("Top-1 accuracy against gamma", Context{Model: "vit-fashion-mnist", Dataset: "fashion-mnist",
		Granularity: []string{"slice"}, SigmaR: []float64{0}, Note: "10,000 images x 3 trials · token pruning keep 0.7 after blocks 1,3, fused"})
	got := wrapTitle(long, sty, vg.Points(300))
	for _, line := range strings.Split(got, "\n") {
		if w := sty.Width(line); w > vg.Points(300) && strings.Contains(line, sep) {
			t.Errorf("line %q is %v wide, over 300 pt, yet could break", line, w)
		}
	}
	if strings.ReplaceAll(strings.ReplaceAll(got, "\n", ""), sep, "") != strings.ReplaceAll(strings.ReplaceAll(long, "\n", ""), sep, "") {
		t.Fatalf("wrapping lost text:\n%s\nfrom\n%s", got, long)
	}
}

func TestPNGDecodesAtTheDPI(t *testing.T) {
	var b bytes.Buffer
	if err := Lines(&b, PNG, ctx, Gamma, Accuracy, study()); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Bounds().Dx(), int(math.Round(float64(DefaultWidth/vg.Inch)*PNGDPI)); got != want {
		t.Fatalf("PNG %d px wide, want %d", got, want)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	if err := Lines(io.Discard, SVG, ctx, Gamma, Accuracy, nil); !errors.Is(err, ErrNoData) {
		t.Errorf("no series: %v, want ErrNoData", err)
	}
	nan := []Series{{Label: "alpha=2 beta=0.25", Points: []Point{{X: 1, Y: math.NaN()}}}}
	if err := Lines(io.Discard, SVG, ctx, Gamma, Accuracy, nan); err == nil || !strings.Contains(err.Error(), "alpha=2 beta=0.25") {
		t.Errorf("NaN point: %v, want an error naming the series", err)
	}
	g := gains()
	g.Gain = g.Gain[:2]
	if err := GainMap(io.Discard, SVG, ctx, g); err == nil {
		t.Error("gain rows fewer than alphas: no error")
	}
	if _, err := ParseFormat("pdf"); err == nil {
		t.Error("format pdf accepted")
	}
	if err := Lines(io.Discard, Format{Type: "gif"}, ctx, Gamma, Accuracy, study()); err == nil {
		t.Error("format gif accepted")
	}
}
