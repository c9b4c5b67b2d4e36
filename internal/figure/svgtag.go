package figure

import (
	"bytes"
	"encoding/xml"
	"sort"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// svgTagger is an SVG canvas that can put a class and a label on the
// <path> element of the next path drawn. vgsvg writes one <path> per Fill
// and per Stroke with a positive line width, in call order, so counting
// those calls finds the element again in the output (tagPaths).
type svgTagger struct {
	*vgsvg.Canvas
	widths  []vg.Length // the line width, per Push level (vgsvg keeps it per level too)
	paths   int         // <path> elements written so far
	pending string      // attributes for the next one
	tags    map[int]string
}

// tagNext marks the next path drawn on c, when c draws SVG.
func tagNext(c draw.Canvas, class, label string) {
	t := tagger(c.Canvas)
	if t == nil {
		return
	}
	var b bytes.Buffer
	b.WriteString(` class="` + class + `"`)
	if label != "" {
		b.WriteString(` data-series="`)
		xml.EscapeText(&b, []byte(label))
		b.WriteString(`"`)
	}
	t.pending = b.String()
}

// tagger finds the svgTagger beneath the draw.Canvases that gonum wraps
// around a canvas as it crops and pads; nil when there is none.
func tagger(c vg.Canvas) *svgTagger {
	for {
		switch v := c.(type) {
		case *svgTagger:
			return v
		case draw.Canvas:
			c = v.Canvas
		case *draw.Canvas:
			c = v.Canvas
		default:
			return nil
		}
	}
}

func (t *svgTagger) width() vg.Length {
	if len(t.widths) == 0 {
		return 1 // vg.Initialize's width
	}
	return t.widths[len(t.widths)-1]
}

func (t *svgTagger) emit() {
	if t.pending != "" {
		if t.tags == nil {
			t.tags = map[int]string{}
		}
		t.tags[t.paths] = t.pending
		t.pending = ""
	}
	t.paths++
}

// SetLineWidth implements vg.Canvas.
func (t *svgTagger) SetLineWidth(w vg.Length) {
	if len(t.widths) == 0 {
		t.widths = []vg.Length{1}
	}
	t.widths[len(t.widths)-1] = w
	t.Canvas.SetLineWidth(w)
}

// Push implements vg.Canvas.
func (t *svgTagger) Push() {
	t.widths = append(t.widths, t.width())
	t.Canvas.Push()
}

// Pop implements vg.Canvas.
func (t *svgTagger) Pop() {
	if len(t.widths) > 0 {
		t.widths = t.widths[:len(t.widths)-1]
	}
	t.Canvas.Pop()
}

// Stroke implements vg.Canvas.
func (t *svgTagger) Stroke(p vg.Path) {
	if t.width() > 0 {
		t.emit()
	}
	t.Canvas.Stroke(p)
}

// Fill implements vg.Canvas.
func (t *svgTagger) Fill(p vg.Path) {
	t.emit()
	t.Canvas.Fill(p)
}

// tagPaths adds the recorded attributes to their <path> elements of svg.
func (t *svgTagger) tagPaths(svg []byte) []byte {
	if len(t.tags) == 0 {
		return svg
	}
	idx := make([]int, 0, len(t.tags))
	for k := range t.tags {
		idx = append(idx, k)
	}
	sort.Ints(idx)
	open := []byte("<path ")
	var out bytes.Buffer
	n, at := 0, 0
	for _, want := range idx {
		for {
			i := bytes.Index(svg[at:], open)
			if i < 0 {
				out.Write(svg[at:])
				return out.Bytes()
			}
			end := at + i + len(open) - 1 // just after "<path"
			if n == want {
				out.Write(svg[at:end])
				out.WriteString(t.tags[want])
				at = end
				n++
				break
			}
			out.Write(svg[at:end])
			at = end
			n++
		}
	}
	out.Write(svg[at:])
	return out.Bytes()
}
