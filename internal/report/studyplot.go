package report

import (
	"fmt"
	"image/color"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// PlotStudy writes the figures of a study grid, where one line per
// ClipFormer setting (Plot) would draw dozens of lines. For each combination
// of the other axes (sigma_r, sigma_w, device; a "-sigma_r0.05"-style suffix
// when there are several) it writes, for each extension:
//
//   - PREFIX-best: accuracy against gamma, untransformed and the best
//     (alpha, beta) per gamma, with 95 % intervals;
//   - PREFIX-beta-accuracy and PREFIX-beta-snr: accuracy and <SNR> against
//     beta at the largest gamma with a ClipFormer point done, one line per
//     alpha, the untransformed level dashed (how the gain and the SNR follow
//     the rigour of the clip);
//   - PREFIX-blocksnr: SNR per block at that gamma, untransformed and the
//     best setting there.
//
// It returns the files written.
func PlotStudy(rows []Row, title, prefix string, exts []string) ([]string, error) {
	best := BestPerGamma(rows)
	if len(best) == 0 {
		return nil, fmt.Errorf("report: no complete trials to plot yet")
	}
	groups := map[string][]Best{}
	var order []string
	for _, b := range best {
		if _, ok := groups[b.Others]; !ok {
			order = append(order, b.Others)
		}
		groups[b.Others] = append(groups[b.Others], b)
	}
	var files []string
	for _, others := range order {
		p, t := prefix, title
		if len(order) > 1 && others != "" {
			p += "-" + strings.NewReplacer("=", "", " ", "-").Replace(others)
			t += ", " + others
		}
		bs := groups[others]
		// The largest gamma with a transformed point done (BestPerGamma sorts
		// by gamma within a group); a run still going may lack the very last.
		top := bs[len(bs)-1]
		for i := len(bs) - 1; i >= 0; i-- {
			if bs[i].Clip != nil {
				top = bs[i]
				break
			}
		}
		figs := []struct {
			name string
			make func() (*plot.Plot, error)
		}{
			{"best", func() (*plot.Plot, error) { return plotBest(bs, t) }},
			{"beta-accuracy", func() (*plot.Plot, error) { return plotBeta(rows, top, t, false) }},
			{"beta-snr", func() (*plot.Plot, error) { return plotBeta(rows, top, t, true) }},
			{"blocksnr", func() (*plot.Plot, error) { return plotBlockSNR(top, t) }},
		}
		for _, fig := range figs {
			pl, err := fig.make()
			if err != nil {
				return nil, fmt.Errorf("report: %s figure of %s: %w", fig.name, t, err)
			}
			if pl == nil {
				continue
			}
			for _, ext := range exts {
				f := fmt.Sprintf("%s-%s.%s", p, fig.name, ext)
				if err := pl.Save(7*vg.Inch, 5*vg.Inch, f); err != nil {
					return nil, fmt.Errorf("report: plot %s: %w", filepath.Base(f), err)
				}
				files = append(files, f)
			}
		}
	}
	return files, nil
}

// addLine draws pts in the i-th colour and shape, with symmetric y errors
// when ci is not nil, and a legend entry.
func addLine(p *plot.Plot, i int, label string, pts plotter.XYs, ci []float64, dashes []vg.Length) error {
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	line.Color, points.Color, points.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
	line.Dashes = dashes
	p.Add(line, points)
	p.Legend.Add(label, line, points)
	if ci != nil {
		errs := make(plotter.YErrors, len(ci))
		for j, c := range ci {
			errs[j].Low, errs[j].High = c, c
		}
		eb, err := plotter.NewYErrorBars(errPoints{pts, errs})
		if err != nil {
			return err
		}
		eb.Color = plotutil.Color(i)
		p.Add(eb)
	}
	return nil
}

func plotBest(bs []Best, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "write-noise factor gamma"
	p.Y.Label.Text = "top-1 accuracy (%)"
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	var off, clip plotter.XYs
	var offCI, clipCI []float64
	var labels []string
	for _, b := range bs {
		if b.Off != nil {
			off = append(off, plotter.XY{X: b.Gamma, Y: b.Off.Accuracy})
			offCI = append(offCI, b.Off.CI95)
		}
		if b.Clip != nil {
			clip = append(clip, plotter.XY{X: b.Gamma, Y: b.Clip.Accuracy})
			clipCI = append(clipCI, b.Clip.CI95)
			labels = append(labels, fmt.Sprintf("(%g,%g)", b.Clip.Alpha, b.Clip.Beta))
		}
	}
	if len(off) > 0 {
		if err := addLine(p, 0, "ClipFormer off", off, offCI, nil); err != nil {
			return nil, err
		}
	}
	if len(clip) > 0 {
		if err := addLine(p, 1, "best (alpha, beta) per gamma", clip, clipCI, nil); err != nil {
			return nil, err
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: clip, Labels: labels})
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Color = plotutil.Color(1)
			l.TextStyle[i].YAlign = -1.5 // above the point and its interval bar
		}
		p.Add(l)
	}
	return p, nil
}

// plotBeta draws accuracy (or <SNR>) against beta at top's gamma and other
// axes, one line per alpha, and the untransformed level.
func plotBeta(rows []Row, top Best, title string, snr bool) (*plot.Plot, error) {
	if top.Clip == nil {
		return nil, nil
	}
	others := othersKeys(rows)
	byAlpha := map[float64]plotter.XYs{}
	ciAlpha := map[float64][]float64{}
	var alphas []float64
	for i, r := range rows {
		if !r.ClipOn || r.Trials == 0 || r.Gamma != top.Gamma || others[i] != top.Others {
			continue
		}
		if _, ok := byAlpha[r.Alpha]; !ok {
			alphas = append(alphas, r.Alpha)
		}
		y := r.Accuracy
		if snr {
			y = plotSNR(r.SNR)
		}
		byAlpha[r.Alpha] = append(byAlpha[r.Alpha], plotter.XY{X: r.Beta, Y: y})
		ciAlpha[r.Alpha] = append(ciAlpha[r.Alpha], r.CI95)
	}
	sort.Float64s(alphas)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, gamma %g", title, top.Gamma)
	p.X.Label.Text = "beta (cap on the conductance, as a share of Gmax)"
	if snr {
		p.Y.Label.Text = "<SNR> of the attention core (dB)"
	} else {
		p.Y.Label.Text = "top-1 accuracy (%)"
	}
	// Where the lines are not: low beta scores high on both, high beta low on SNR.
	p.Legend.Top = snr
	p.Add(plotter.NewGrid())
	for i, a := range alphas {
		pts, ci := byAlpha[a], ciAlpha[a]
		idx := make([]int, len(pts))
		for j := range idx {
			idx[j] = j
		}
		sort.Slice(idx, func(x, y int) bool { return pts[idx[x]].X < pts[idx[y]].X })
		sp, sci := make(plotter.XYs, len(pts)), make([]float64, len(pts))
		for j, k := range idx {
			sp[j], sci[j] = pts[k], ci[k]
		}
		if snr {
			sci = nil
		}
		if err := addLine(p, i, fmt.Sprintf("alpha=%g", a), sp, sci, nil); err != nil {
			return nil, err
		}
	}
	if off := top.Off; off != nil {
		y := off.Accuracy
		if snr {
			y = plotSNR(off.SNR)
		}
		lo, hi := p.X.Min, p.X.Max
		line, err := plotter.NewLine(plotter.XYs{{X: lo, Y: y}, {X: hi, Y: y}})
		if err != nil {
			return nil, err
		}
		line.Color = color.Gray{Y: 80}
		line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(line)
		p.Legend.Add("ClipFormer off", line)
	}
	return p, nil
}

func plotBlockSNR(top Best, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, gamma %g", title, top.Gamma)
	p.X.Label.Text = "block"
	p.Y.Label.Text = "SNR of the attention core (dB)"
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	n := 0
	for i, r := range []*Row{top.Off, top.Clip} {
		if r == nil || len(r.BlockSNR) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(r.BlockSNR))
		for b, v := range r.BlockSNR {
			pts[b] = plotter.XY{X: float64(b), Y: plotSNR(v)}
		}
		label := "ClipFormer off"
		if r.ClipOn {
			label = fmt.Sprintf("best: alpha=%g beta=%g", r.Alpha, r.Beta)
		}
		if err := addLine(p, i, label, pts, nil, nil); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	var ticks []plot.Tick
	for b := 0; b < max(lenSNR(top.Off), lenSNR(top.Clip)); b++ {
		ticks = append(ticks, plot.Tick{Value: float64(b), Label: fmt.Sprint(b)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	return p, nil
}

func lenSNR(r *Row) int {
	if r == nil {
		return 0
	}
	return len(r.BlockSNR)
}

// plotSNR draws a noise-free SNR (999 dB in the results) at the top of the
// axis rather than off it.
func plotSNR(v float64) float64 {
	if v == 999 {
		return 60
	}
	return v
}
