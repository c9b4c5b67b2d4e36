package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteMarkdown writes the reproduction tables from result sets named by
// their files' base names: table2-NAME and table2-NAME-vat side by side
// (the paper's Table II), table3-* (Table III, pruned), study-* (the best
// ClipFormer setting per gamma) and any other set in full.
func WriteMarkdown(w io.Writer, sets map[string][]Row) error {
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	pct := func(r *Row) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f ± %.2f", r.Accuracy, r.CI95)
	}
	used := map[string]bool{}

	fmt.Fprintln(w, "## Table II analogue: accuracy (%, mean ± 95 % half-width over trials)")
	for _, n := range names {
		if !strings.HasPrefix(n, "table2-") || strings.HasSuffix(n, "-vat") {
			continue
		}
		used[n], used[n+"-vat"] = true, true
		std, vat := sets[n], sets[n+"-vat"]
		fmt.Fprintf(w, "\n### %s\n\n", strings.TrimPrefix(n, "table2-"))
		fmt.Fprintln(w, "| gamma | images x trials | standard | + ClipFormer | VAT | VAT + ClipFormer | ⟨SNR⟩ dB, off → ClipFormer | K/V slices | attention area / energy saving |")
		fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, g := range gammas(std) {
			off, clip := pick(std, g, false), pick(std, g, true)
			voff, vclip := pick(vat, g, false), pick(vat, g, true)
			cf := pct(clip)
			if clip != nil {
				cf += fmt.Sprintf(" (%g, %g)", clip.Alpha, clip.Beta)
			}
			snr, slices, saving := "-", "-", "-"
			if off != nil && clip != nil {
				snr = fmt.Sprintf("%.2f → %.2f", off.SNR, clip.SNR)
				slices = fmt.Sprintf("%d → %d", off.KVSlices, clip.KVSlices)
				saving = fmt.Sprintf("%.1f %% / %.1f %%", clip.AreaSavingPct, clip.EnergySavingPct)
			}
			size := "-"
			if off != nil {
				size = fmt.Sprintf("%d x %d", off.Images, off.Trials)
			}
			fmt.Fprintf(w, "| %g | %s | %s | %s | %s | %s | %s | %s | %s |\n", g, size, pct(off), cf, pct(voff), pct(vclip), snr, slices, saving)
		}
	}

	first := true
	for _, n := range names {
		if !strings.HasPrefix(n, "table3-") {
			continue
		}
		used[n] = true
		if first {
			fmt.Fprintln(w, "\n## Table III analogue: token-pruned models")
			first = false
		}
		fmt.Fprintf(w, "\n### %s\n\n| gamma | pruning | standard | + ClipFormer |\n| ---: | --- | ---: | ---: |\n", strings.TrimPrefix(n, "table3-"))
		for _, g := range gammas(sets[n]) {
			off, clip := pick(sets[n], g, false), pick(sets[n], g, true)
			prune := "-"
			if off != nil {
				prune = off.Pruning
			}
			fmt.Fprintf(w, "| %g | %s | %s | %s |\n", g, prune, pct(off), pct(clip))
		}
	}

	first = true
	for _, n := range names {
		if !strings.HasPrefix(n, "study-") {
			continue
		}
		used[n] = true
		if first {
			fmt.Fprintln(w, "\n## The best ClipFormer setting per gamma (study grids)")
			first = false
		}
		fmt.Fprintf(w, "\n### %s\n\n| gamma | other axes | images x trials | off | best (alpha, beta) | accuracy | gain (points) | gain, chosen on other trials | ⟨SNR⟩ dB, off → best | SNR per block (dB), off → best |\n| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |\n", n)
		bests := BestPerGamma(sets[n])
		for _, b := range bests {
			others, size, best, gain, db := b.Others, "-", "-", "-", "-"
			if others == "" {
				others = "-"
			}
			if b.Off != nil {
				size = fmt.Sprintf("%d x %d", b.Off.Images, b.Off.Trials)
			}
			if b.Clip != nil {
				best = fmt.Sprintf("(%g, %g)", b.Clip.Alpha, b.Clip.Beta)
			}
			blocks, held := "-", "-"
			if b.HasHeldOut {
				held = fmt.Sprintf("%+.2f", b.HeldOutGain)
			}
			if b.Off != nil && b.Clip != nil {
				gain = fmt.Sprintf("%+.2f", b.GainPoints)
				db = fmt.Sprintf("%s → %s", dB(b.Off.SNR), dB(b.Clip.SNR))
				blocks = fmt.Sprintf("%s → %s", dBList(b.Off.BlockSNR), dBList(b.Clip.BlockSNR))
			}
			fmt.Fprintf(w, "| %g | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", b.Gamma, others, size, pct(b.Off), best, pct(b.Clip), gain, held, db, blocks)
		}
		writeKept(w, bests)
		WriteGainGrids(w, sets[n], bests)
	}

	for _, n := range names {
		if used[n] {
			continue
		}
		fmt.Fprintf(w, "\n## %s\n\n| gamma | ClipFormer | sigma_w | sigma_r | device | images x trials | accuracy | ⟨SNR⟩ dB |\n| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |\n", n)
		for i := range sets[n] {
			r := &sets[n][i]
			dev := r.Device
			if dev == "" {
				dev = "-"
			}
			fmt.Fprintf(w, "| %g | %s | %g | %g | %s | %d x %d | %s | %.2f |\n", r.Gamma, r.Clip, r.SigmaW, r.SigmaR, dev, r.Images, r.Trials, pct(r), r.SNR)
		}
	}
	return nil
}

// paperKept is the share of its software accuracy (79.76 %) DeiT-S keeps
// in the ClipFormer paper's Table II, untransformed and with ClipFormer
// (alpha 2, beta 0.25), by gamma.
var paperKept = map[float64][2]float64{3: {71.06 / 79.76, 74.64 / 79.76}, 4: {54.82 / 79.76, 68.81 / 79.76}, 5: {22.59 / 79.76, 64.05 / 79.76}}

// writeKept writes the share of the accuracy without write noise (gamma 0,
// ClipFormer off, same other axes) kept per gamma, untransformed and
// with the best setting, beside the paper's DeiT-S.
func writeKept(w io.Writer, best []Best) {
	base := map[string]*Row{}
	for _, b := range best {
		if b.Gamma == 0 && b.Off != nil && b.Off.Accuracy > 0 {
			base[b.Others] = b.Off
		}
	}
	if len(base) == 0 {
		return
	}
	fmt.Fprintln(w, "\nShare of the accuracy at gamma 0 (ClipFormer off, same other axes) kept, beside the paper's DeiT-S (Table II: share of its 79.76 % software accuracy; ClipFormer there is (2, 0.25)):")
	fmt.Fprintln(w, "\n| gamma | other axes | off | best ClipFormer | paper: standard | paper: + ClipFormer |\n| ---: | --- | ---: | ---: | ---: | ---: |")
	for _, b := range best {
		ref := base[b.Others]
		if ref == nil || b.Gamma == 0 || b.Off == nil || b.Clip == nil {
			continue
		}
		others, ps, pc := b.Others, "-", "-"
		if others == "" {
			others = "-"
		}
		if p, ok := paperKept[b.Gamma]; ok {
			ps, pc = fmt.Sprintf("%.0f %%", 100*p[0]), fmt.Sprintf("%.0f %%", 100*p[1])
		}
		fmt.Fprintf(w, "| %g | %s | %.0f %% | %.0f %% | %s | %s |\n", b.Gamma, others, 100*b.Off.Accuracy/ref.Accuracy, 100*b.Clip.Accuracy/ref.Accuracy, ps, pc)
	}
}

// dB formats an SNR, with "inf" for a noise-free one (999 in the results).
func dB(v float64) string {
	if v == 999 {
		return "inf"
	}
	return fmt.Sprintf("%.1f", v)
}

func dBList(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = dB(x)
	}
	return strings.Join(s, " ")
}

// gammas lists the gammas of rows in order of first appearance.
func gammas(rows []Row) []float64 {
	var out []float64
	seen := map[float64]bool{}
	for _, r := range rows {
		if !seen[r.Gamma] {
			seen[r.Gamma] = true
			out = append(out, r.Gamma)
		}
	}
	return out
}

// pick is the first row at gamma with ClipFormer on or off that has a
// complete trial, or nil.
func pick(rows []Row, gamma float64, clip bool) *Row {
	for i := range rows {
		if rows[i].Gamma == gamma && rows[i].ClipOn == clip && rows[i].Trials > 0 {
			return &rows[i]
		}
	}
	return nil
}
