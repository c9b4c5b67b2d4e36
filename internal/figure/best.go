package figure

import (
	"fmt"
	"io"
)

// BestPoint is, at one gamma, the untransformed accuracy and the best
// ClipFormer setting's, each with the half-width of its 95 % interval.
type BestPoint struct {
	Gamma       float64
	HasOff      bool
	Off, OffErr float64
	HasBest     bool
	Best        float64
	BestErr     float64
	Alpha, Beta float64 // the best setting
}

// Best draws accuracy against gamma for ClipFormer off and for the best
// (alpha, beta) at each gamma. The settings are written under the gamma
// tick labels, where they cannot cover a line or an interval bar.
func Best(w io.Writer, f Format, c Context, pts []BestPoint) error {
	ch, err := bestChart(c, pts)
	if err != nil {
		return err
	}
	return render(w, f, ch)
}

func bestChart(c Context, pts []BestPoint) (*chart, error) {
	off := Series{Label: "ClipFormer off", Reference: true}
	best := Series{Label: "best (alpha, beta) at each gamma"}
	labels := map[float64]string{}
	for _, b := range pts {
		labels[b.Gamma] = fmt.Sprintf("%g", b.Gamma)
		if b.HasOff {
			off.Points = append(off.Points, Point{X: b.Gamma, Y: b.Off, Err: b.OffErr})
		}
		if b.HasBest {
			best.Points = append(best.Points, Point{X: b.Gamma, Y: b.Best, Err: b.BestErr})
			labels[b.Gamma] += fmt.Sprintf("\n(%g, %g)", b.Alpha, b.Beta)
		}
	}
	p := newPlot(title("Top-1 accuracy: ClipFormer off and the best setting per gamma", c),
		"write-noise factor gamma, the best (alpha, beta) beneath", Accuracy.label())
	return seriesChart(p, []Series{off, best}, labels, Accuracy.bounds())
}
