package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Best is, for one gamma (and one value of every other axis), the
// untransformed accuracy and the ClipFormer setting that scored highest.
type Best struct {
	Gamma              float64
	Others             string // the other axes' values, "" when there are none
	Off                *Row   // nil when the grid has no "off" point
	Clip               *Row   // the best transformed point; nil when none ran
	GainPoints, GainDB float64
	// HeldOutGain is the gain with the choice made on other trials: for each
	// trial k the setting with the best mean over the other trials is scored
	// on trial k against the untransformed trial k, averaged over k. Picking
	// the maximum of 30 noisy estimates flatters GainPoints; this does not
	// (the trials share the images, so it removes the Monte-Carlo part of
	// that bias, not the test set's). HasHeldOut is false unless the
	// untransformed point and every transformed one at this gamma have all
	// their shards done and the same 2 or more trials.
	HeldOutGain float64
	HasHeldOut  bool
	clips       []*Row
}

// BestPerGamma picks, per gamma and per combination of the other axes, the
// ClipFormer setting with the highest mean accuracy over complete trials.
func BestPerGamma(rows []Row) []Best {
	type key struct {
		gamma  float64
		others string
	}
	by := map[key]*Best{}
	var keys []key
	others := othersKeys(rows)
	for i := range rows {
		r := &rows[i]
		if r.Trials == 0 {
			continue
		}
		k := key{r.Gamma, others[i]}
		b := by[k]
		if b == nil {
			b = &Best{Gamma: r.Gamma, Others: k.others}
			by[k] = b
			keys = append(keys, k)
		}
		if !r.ClipOn {
			b.Off = r
			continue
		}
		b.clips = append(b.clips, r)
		if b.Clip == nil || r.Accuracy > b.Clip.Accuracy {
			b.Clip = r
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].others != keys[j].others {
			return keys[i].others < keys[j].others
		}
		return keys[i].gamma < keys[j].gamma
	})
	out := make([]Best, 0, len(keys))
	for _, k := range keys {
		b := by[k]
		if b.Off != nil && b.Clip != nil {
			b.GainPoints = b.Clip.Accuracy - b.Off.Accuracy
			b.GainDB = b.Clip.SNR - b.Off.SNR
			b.HeldOutGain, b.HasHeldOut = heldOutGain(b.Off, b.clips)
		}
		b.clips = nil
		out = append(out, *b)
	}
	return out
}

// othersKeys names, for each row, the values of the axes other than gamma
// and the clip (those that vary in rows, and the device), "" when there are
// none: the key BestPerGamma groups by and Best.Others.
func othersKeys(rows []Row) []string {
	keys := make([]string, len(rows))
	for i := range rows {
		r := &rows[i]
		keys[i] = strings.TrimSpace(fmt.Sprintf("%s %s %s",
			ifNonZero("sigma_r", r.SigmaR, rows, func(x Row) float64 { return x.SigmaR }),
			ifNonZero("sigma_w", r.SigmaW, rows, func(x Row) float64 { return x.SigmaW }), r.Device))
	}
	return keys
}

// WriteGainGrids writes, per gamma and combination of the other axes, the
// gain over the untransformed model (points) of every (alpha, beta) of a
// product grid as an alpha x beta Markdown table, the best in bold. best is
// BestPerGamma(rows).
func WriteGainGrids(w io.Writer, rows []Row, best []Best) {
	keys := othersKeys(rows)
	for _, b := range best {
		if b.Off == nil || b.Clip == nil {
			continue
		}
		cell, alphas, betas := gainCells(rows, keys, b)
		sort.Sort(sort.Reverse(sort.Float64Slice(betas)))
		title := fmt.Sprintf("gamma %g", b.Gamma)
		if b.Others != "" {
			title += ", " + b.Others
		}
		fmt.Fprintf(w, "\nGain over ClipFormer off (%.2f %%), points, %s:\n\n| alpha \\ beta |", b.Off.Accuracy, title)
		for _, be := range betas {
			fmt.Fprintf(w, " %g |", be)
		}
		fmt.Fprint(w, "\n| ---: |")
		for range betas {
			fmt.Fprint(w, " ---: |")
		}
		fmt.Fprintln(w)
		for _, a := range alphas {
			fmt.Fprintf(w, "| %g |", a)
			for _, be := range betas {
				g, ok := cell[[2]float64{a, be}]
				switch {
				case !ok:
					fmt.Fprint(w, " - |")
				case a == b.Clip.Alpha && be == b.Clip.Beta:
					fmt.Fprintf(w, " **%s** |", points1(g))
				default:
					fmt.Fprintf(w, " %s |", points1(g))
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// points1 is a signed gain to 0.1 point, with "0.0" for what rounds to zero.
func points1(g float64) string {
	s := fmt.Sprintf("%+.1f", g)
	if s == "+0.0" || s == "-0.0" {
		return "0.0"
	}
	return s
}

// heldOutGain is leave-one-trial-out: the setting chosen on the other
// trials, scored on the one left out, against off on that trial.
func heldOutGain(off *Row, clips []*Row) (float64, bool) {
	// PerTrial lists complete trials by position; only when every shard is
	// done is position k trial k for every point.
	complete := func(r *Row) bool { return r.AllShards > 0 && r.Shards == r.AllShards && len(r.PerTrial) == r.Trials }
	n := len(off.PerTrial)
	if n < 2 || !complete(off) {
		return 0, false
	}
	for _, c := range clips {
		if len(c.PerTrial) != n || !complete(c) {
			return 0, false
		}
	}
	var sum float64
	for k := 0; k < n; k++ {
		var pick *Row
		var pickMean float64
		for _, c := range clips {
			var m float64
			for j, a := range c.PerTrial {
				if j != k {
					m += a
				}
			}
			if pick == nil || m > pickMean {
				pick, pickMean = c, m
			}
		}
		sum += pick.PerTrial[k] - off.PerTrial[k]
	}
	return sum / float64(n), true
}

// ifNonZero names an axis value only when the axis varies in the rows.
func ifNonZero(name string, v float64, rows []Row, f func(Row) float64) string {
	for _, r := range rows {
		if f(r) != v {
			return fmt.Sprintf("%s=%g", name, v)
		}
	}
	return ""
}

// WriteBest prints BestPerGamma as a table; "held-out gain" is
// Best.HeldOutGain, the gain with the setting chosen on the other trials.
func WriteBest(w io.Writer, best []Best) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "gamma\tother axes\toff %\tbest ClipFormer\taccuracy %\t+-95%\tgain\theld-out gain\t<SNR> gain dB\t")
	for _, b := range best {
		off, clip, acc, ci, gain, held, db := "-", "-", "-", "-", "-", "-", "-"
		if b.HasHeldOut {
			held = fmt.Sprintf("%+.2f", b.HeldOutGain)
		}
		if b.Off != nil {
			off = fmt.Sprintf("%.2f", b.Off.Accuracy)
		}
		if b.Clip != nil {
			clip, acc, ci = b.Clip.Clip, fmt.Sprintf("%.2f", b.Clip.Accuracy), fmt.Sprintf("%.2f", b.Clip.CI95)
		}
		if b.Off != nil && b.Clip != nil {
			gain, db = fmt.Sprintf("%+.2f", b.GainPoints), fmt.Sprintf("%+.2f", b.GainDB)
		}
		others := b.Others
		if others == "" {
			others = "-"
		}
		fmt.Fprintf(tw, "%g\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", b.Gamma, others, off, clip, acc, ci, gain, held, db)
	}
	return tw.Flush()
}
