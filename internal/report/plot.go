package report

import (
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line: a ClipFormer setting (and any other axis values)
// across gamma.
type series struct {
	label string
	gamma []float64
	acc   []float64
	ci    []float64
	snr   []float64
}

func group(rows []Row) []*series {
	by := map[string]*series{}
	var order []string
	for _, r := range rows {
		if r.Trials == 0 {
			continue
		}
		label := r.Clip
		if r.SigmaR != 0 || hasVarying(rows, func(x Row) float64 { return x.SigmaR }) {
			label += fmt.Sprintf(", sigma_r=%g", r.SigmaR)
		}
		if hasVarying(rows, func(x Row) float64 { return x.SigmaW }) {
			label += fmt.Sprintf(", sigma_w=%g", r.SigmaW)
		}
		if r.Device != "" {
			label += ", " + r.Device
		}
		s := by[label]
		if s == nil {
			s = &series{label: label}
			by[label] = s
			order = append(order, label)
		}
		s.gamma = append(s.gamma, r.Gamma)
		s.acc = append(s.acc, r.Accuracy)
		s.ci = append(s.ci, r.CI95)
		s.snr = append(s.snr, plotSNR(r.SNR))
	}
	out := make([]*series, 0, len(order))
	for _, l := range order {
		s := by[l]
		idx := make([]int, len(s.gamma))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return s.gamma[idx[a]] < s.gamma[idx[b]] })
		ns := &series{label: s.label}
		for _, i := range idx {
			ns.gamma, ns.acc, ns.ci, ns.snr = append(ns.gamma, s.gamma[i]), append(ns.acc, s.acc[i]), append(ns.ci, s.ci[i]), append(ns.snr, s.snr[i])
		}
		out = append(out, ns)
	}
	return out
}

func hasVarying(rows []Row, f func(Row) float64) bool {
	for _, r := range rows {
		if f(r) != f(rows[0]) {
			return true
		}
	}
	return false
}

type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// Plot writes accuracy-vs-gamma and <SNR>-vs-gamma figures, one line per
// ClipFormer setting with 95 % intervals, as PREFIX-accuracy.EXT and
// PREFIX-snr.EXT for each extension (png, svg). It returns the files.
func Plot(rows []Row, title, prefix string, exts []string) ([]string, error) {
	ss := group(rows)
	if len(ss) == 0 {
		return nil, fmt.Errorf("report: no complete trials to plot yet")
	}
	var files []string
	for _, kind := range []string{"accuracy", "snr"} {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "write-noise factor gamma"
		if kind == "accuracy" {
			p.Y.Label.Text = "top-1 accuracy (%)"
		} else {
			p.Y.Label.Text = "<SNR> of the attention core (dB)"
		}
		p.Legend.Top = kind == "accuracy"
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
		for i, s := range ss {
			pts := make(plotter.XYs, len(s.gamma))
			for j := range s.gamma {
				pts[j].X = s.gamma[j]
				if kind == "accuracy" {
					pts[j].Y = s.acc[j]
				} else {
					pts[j].Y = s.snr[j]
				}
			}
			var ci []float64
			if kind == "accuracy" {
				ci = s.ci
			}
			if err := addLine(p, i, s.label, pts, ci, plotutil.Dashes(i/7)); err != nil {
				return nil, err
			}
		}
		for _, ext := range exts {
			f := fmt.Sprintf("%s-%s.%s", prefix, kind, ext)
			if err := p.Save(7*vg.Inch, 5*vg.Inch, f); err != nil {
				return nil, fmt.Errorf("report: plot %s: %w", filepath.Base(f), err)
			}
			files = append(files, f)
		}
	}
	return files, nil
}
