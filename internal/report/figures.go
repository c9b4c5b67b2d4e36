package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clipformer/clipformer/internal/figure"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// This file turns rows into the plain data internal/figure draws; the
// dashboard and the file writers (Plot, PlotStudy) share it.

// FigureContext is what the figures of rows were measured on: the spec's
// model and data set (spec may be nil: a CSV without its spec), the noise
// granularity (the rows' device axis, else the spec's profile), the rows'
// sigma_r values, and their images, trials and token pruning.
func FigureContext(spec *cfpb.SweepSpec, rows []Row) figure.Context {
	var c figure.Context
	if spec != nil {
		if p := spec.GetModel().GetPath(); p != "" {
			c.Model = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		}
		c.Dataset = spec.GetDataset().GetKind()
		if d, err := sweep.BaseDevice(spec.Profile); err == nil {
			c.Granularity = []string{string(d.Granularity)}
		}
	}
	return withRows(c, rows)
}

// withRows sets c's sigma_r, granularity (when the rows carry it as a device
// axis) and note from the rows with results.
func withRows(c figure.Context, rows []Row) figure.Context {
	var sigmaR []float64
	var gran, notes []string
	images, trials := map[int]bool{}, map[int]bool{}
	pruning := map[string]bool{}
	for _, r := range rows {
		if r.Trials == 0 {
			continue
		}
		sigmaR = addFloat(sigmaR, r.SigmaR)
		if g := deviceField(r.Device, "granularity"); g != "" && !slices.Contains(gran, g) {
			gran = append(gran, g)
		}
		images[r.Images], trials[r.Trials] = true, true
		pruning[r.Pruning] = true
	}
	sort.Float64s(sigmaR)
	c.SigmaR = sigmaR
	if len(gran) > 0 {
		c.Granularity = gran
	}
	if len(images) == 1 && len(trials) == 1 {
		for im := range images {
			for tr := range trials {
				notes = append(notes, fmt.Sprintf("%s images x %d trials", thousands(im), tr))
			}
		}
	}
	if len(pruning) == 1 {
		for p := range pruning {
			if p != "" {
				notes = append(notes, "token pruning "+p)
			}
		}
	}
	c.Note = strings.Join(notes, " · ")
	return c
}

// deviceField is the value of field in a "field=value ..." device string.
func deviceField(device, field string) string {
	for _, kv := range strings.Fields(device) {
		if v, ok := strings.CutPrefix(kv, field+"="); ok {
			return v
		}
	}
	return ""
}

func addFloat(vs []float64, v float64) []float64 {
	for _, x := range vs {
		if x == v {
			return vs
		}
	}
	return append(vs, v)
}

// LineAxis is the x axis of the rows' line figures: gamma, unless the grid
// has one gamma and varies sigma_w or sigma_r (a calibration).
func LineAxis(rows []Row) figure.Axis {
	switch {
	case hasVarying(rows, func(r Row) float64 { return r.Gamma }):
		return figure.Gamma
	case hasVarying(rows, func(r Row) float64 { return r.SigmaW }):
		return figure.SigmaW
	case hasVarying(rows, func(r Row) float64 { return r.SigmaR }):
		return figure.SigmaR
	}
	return figure.Gamma
}

// LineSeries is one line per ClipFormer setting (and value of any other
// varying axis) of y against x = LineAxis(rows), over the rows with
// complete trials. A single "off" line is the reference line.
func LineSeries(rows []Row, y figure.Quantity) (figure.Axis, []figure.Series) {
	x := LineAxis(rows)
	varR := x != figure.SigmaR && hasVarying(rows, func(r Row) float64 { return r.SigmaR })
	varW := x != figure.SigmaW && hasVarying(rows, func(r Row) float64 { return r.SigmaW })
	by := map[string]*figure.Series{}
	var order []string
	offLines := map[string]bool{}
	for _, r := range rows {
		if r.Trials == 0 {
			continue
		}
		label := lineLabel(r, varR, varW)
		s := by[label]
		if s == nil {
			s = &figure.Series{Label: label}
			by[label] = s
			order = append(order, label)
		}
		if !r.ClipOn {
			offLines[label] = true
		}
		pt := figure.Point{X: axisValue(r, x), Y: r.Accuracy, Err: r.CI95}
		if y != figure.Accuracy {
			pt.Y, pt.Err = plotSNR(r.SNR), 0
		}
		s.Points = append(s.Points, pt)
	}
	out := make([]figure.Series, 0, len(order))
	for _, l := range order {
		s := by[l]
		sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].X < s.Points[j].X })
		s.Reference = offLines[l] && len(offLines) == 1
		s.Label += droppedNote(rows, l, x, varR, varW)
		out = append(out, *s)
	}
	return x, out
}

// droppedNote marks a line whose setting a race dropped at some of its
// points, e.g. " (dropped at gamma 4 r5)": its accuracy there is over the
// images evaluated before the drop.
func droppedNote(rows []Row, label string, x figure.Axis, varR, varW bool) string {
	var at []string
	for _, r := range rows {
		if r.Decision == "dropped" && r.Trials > 0 && lineLabel(r, varR, varW) == label {
			name := map[figure.Axis]string{figure.SigmaW: "sigma_w", figure.SigmaR: "sigma_r"}[x]
			if name == "" {
				name = "gamma"
			}
			at = append(at, fmt.Sprintf("%s %g r%d", name, axisValue(r, x), r.DecisionRound))
		}
	}
	if len(at) == 0 {
		return ""
	}
	return " (dropped at " + strings.Join(at, ", ") + ")"
}

// lineLabel names r's line: its ClipFormer setting, and the values of the
// other axes that vary between lines.
func lineLabel(r Row, varR, varW bool) string {
	label := r.Clip
	if !r.ClipOn {
		label = "ClipFormer off"
	}
	if varR {
		label += fmt.Sprintf(", sigma_r=%g", r.SigmaR)
	}
	if varW {
		label += fmt.Sprintf(", sigma_w=%g", r.SigmaW)
	}
	if r.Device != "" {
		label += ", " + r.Device
	}
	return label
}

// SettingBlockSeries is the SNR per block at gamma of every point there
// with complete trials and block SNRs: one line per ClipFormer setting (and
// value of any other varying axis), labelled as LineSeries labels them, the
// untransformed line first. BlockSeries, by contrast, draws only the best.
func SettingBlockSeries(rows []Row, gamma float64) []figure.Series {
	varR := hasVarying(rows, func(r Row) float64 { return r.SigmaR })
	varW := hasVarying(rows, func(r Row) float64 { return r.SigmaW })
	var off, on []figure.Series
	for _, r := range rows {
		if r.Gamma != gamma || r.Trials == 0 || len(r.BlockSNR) == 0 {
			continue
		}
		s := figure.Series{Label: lineLabel(r, varR, varW)}
		for k, v := range r.BlockSNR {
			s.Points = append(s.Points, figure.Point{X: float64(k), Y: plotSNR(v)})
		}
		if r.ClipOn {
			on = append(on, s)
		} else {
			off = append(off, s)
		}
	}
	if len(off) == 1 {
		off[0].Reference = true
	}
	return append(off, on...)
}

func axisValue(r Row, x figure.Axis) float64 {
	switch x {
	case figure.SigmaW:
		return r.SigmaW
	case figure.SigmaR:
		return r.SigmaR
	}
	return r.Gamma
}

// BestPoints is BestPerGamma's result (of one combination of the other
// axes) as the best figure draws it.
func BestPoints(bs []Best) []figure.BestPoint {
	out := make([]figure.BestPoint, 0, len(bs))
	for _, b := range bs {
		p := figure.BestPoint{Gamma: b.Gamma}
		if b.Off != nil {
			p.HasOff, p.Off, p.OffErr = true, b.Off.Accuracy, b.Off.CI95
		}
		if b.Clip != nil {
			p.HasBest, p.Best, p.BestErr, p.Alpha, p.Beta = true, b.Clip.Accuracy, b.Clip.CI95, b.Clip.Alpha, b.Clip.Beta
		}
		out = append(out, p)
	}
	return out
}

// BetaSeries is accuracy (or <SNR>) against beta at b's gamma and other
// axes, one line per alpha, and the untransformed level across the betas.
func BetaSeries(rows []Row, b Best, y figure.Quantity) []figure.Series {
	others := othersKeys(rows)
	byAlpha := map[float64]*figure.Series{}
	dropped := map[float64][]string{} // by alpha: the betas a race dropped
	var alphas, betas []float64
	for i, r := range rows {
		if !r.ClipOn || r.Trials == 0 || r.Gamma != b.Gamma || others[i] != b.Others {
			continue
		}
		s := byAlpha[r.Alpha]
		if s == nil {
			s = &figure.Series{Label: fmt.Sprintf("alpha=%g", r.Alpha)}
			byAlpha[r.Alpha] = s
			alphas = append(alphas, r.Alpha)
		}
		if r.Decision == "dropped" {
			dropped[r.Alpha] = append(dropped[r.Alpha], fmt.Sprintf("beta %g r%d", r.Beta, r.DecisionRound))
		}
		pt := figure.Point{X: r.Beta, Y: r.Accuracy, Err: r.CI95}
		if y != figure.Accuracy {
			pt.Y, pt.Err = plotSNR(r.SNR), 0
		}
		s.Points = append(s.Points, pt)
		betas = addFloat(betas, r.Beta)
	}
	sort.Float64s(alphas)
	sort.Float64s(betas)
	var out []figure.Series
	for _, a := range alphas {
		s := byAlpha[a]
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].X < s.Points[j].X })
		if d := dropped[a]; len(d) > 0 {
			s.Label += " (dropped at " + strings.Join(d, ", ") + ")"
		}
		out = append(out, *s)
	}
	if b.Off != nil && len(betas) > 0 {
		level := b.Off.Accuracy
		if y != figure.Accuracy {
			level = plotSNR(b.Off.SNR)
		}
		out = append(out, figure.Series{Label: "ClipFormer off", Reference: true, NoMarkers: true,
			Points: []figure.Point{{X: betas[0], Y: level}, {X: betas[len(betas)-1], Y: level}}})
	}
	return out
}

// BlockSeries is the SNR per block at b's gamma: untransformed, and the
// best setting there.
func BlockSeries(b Best) []figure.Series {
	var out []figure.Series
	for _, r := range []*Row{b.Off, b.Clip} {
		if r == nil || len(r.BlockSNR) == 0 {
			continue
		}
		s := figure.Series{Label: "ClipFormer off", Reference: !r.ClipOn}
		if r.ClipOn {
			s.Label = fmt.Sprintf("best: alpha=%g beta=%g", r.Alpha, r.Beta)
		}
		for k, v := range r.BlockSNR {
			s.Points = append(s.Points, figure.Point{X: float64(k), Y: plotSNR(v)})
		}
		out = append(out, s)
	}
	return out
}

// GainGrid is the gain over ClipFormer off of every (alpha, beta) at b's
// gamma and other axes; false when b lacks the untransformed point or any
// transformed one.
func GainGrid(rows []Row, b Best) (figure.Gains, bool) {
	if b.Off == nil || b.Clip == nil {
		return figure.Gains{}, false
	}
	cell, alphas, betas := gainCells(rows, othersKeys(rows), b)
	sort.Float64s(betas)
	g := figure.Gains{Alphas: alphas, Betas: betas, Off: b.Off.Accuracy}
	for _, a := range alphas {
		row := make([]float64, len(betas))
		for j, be := range betas {
			v, ok := cell[[2]float64{a, be}]
			if !ok {
				v = math.NaN()
			}
			row[j] = v
		}
		g.Gain = append(g.Gain, row)
	}
	return g, true
}

// gainCells is the gain of each (alpha, beta) at b's gamma and other axes,
// with the alphas ascending and the betas in the order met.
func gainCells(rows []Row, keys []string, b Best) (map[[2]float64]float64, []float64, []float64) {
	cell := map[[2]float64]float64{}
	var alphas, betas []float64
	for i := range rows {
		r := &rows[i]
		if !r.ClipOn || r.Trials == 0 || r.Gamma != b.Gamma || keys[i] != b.Others {
			continue
		}
		cell[[2]float64{r.Alpha, r.Beta}] = r.Accuracy - b.Off.Accuracy
		alphas, betas = addFloat(alphas, r.Alpha), addFloat(betas, r.Beta)
	}
	sort.Float64s(alphas)
	return cell, alphas, betas
}

// plotSNR draws a noise-free SNR (999 dB in the results) at 60 dB, the top
// of any measured one, rather than off the axis.
func plotSNR(v float64) float64 {
	if v == 999 {
		return 60
	}
	return v
}

func hasVarying(rows []Row, f func(Row) float64) bool {
	for _, r := range rows {
		if f(r) != f(rows[0]) {
			return true
		}
	}
	return false
}

// thousands writes n with comma thousands separators: 10,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
