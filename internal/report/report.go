// Package report turns a sweep's aggregated results into rows, and the rows
// into a table, CSV, JSON lines, Parquet and plots.
package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/clipformer/clipformer/internal/simspec"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/cost"
	"github.com/clipformer/clipformer/sim/vit"
)

// Row is one grid point's outcome over its trials.
type Row struct {
	Sweep    string    `json:"sweep" parquet:"sweep"`
	Point    int       `json:"point" parquet:"point"`
	Gamma    float64   `json:"gamma" parquet:"gamma"`
	Clip     string    `json:"clip" parquet:"clip"` // "off" or "alpha=A beta=B"
	ClipOn   bool      `json:"clip_on" parquet:"clip_on"`
	Alpha    float64   `json:"alpha" parquet:"alpha"`
	Beta     float64   `json:"beta" parquet:"beta"`
	SigmaR   float64   `json:"sigma_r" parquet:"sigma_r"`
	SigmaW   float64   `json:"sigma_w" parquet:"sigma_w"`
	Device   string    `json:"device,omitempty" parquet:"device"`   // "field=value ..." of device axes
	Pruning  string    `json:"pruning,omitempty" parquet:"pruning"` // token pruning, "" for none
	Trials   int       `json:"trials" parquet:"trials"`             // complete trials
	Images   int       `json:"images" parquet:"images"`             // per trial
	Accuracy float64   `json:"accuracy" parquet:"accuracy"`         // mean over complete trials, percent
	Std      float64   `json:"std" parquet:"std"`
	CI95     float64   `json:"ci95" parquet:"ci95"` // half-width
	PerTrial []float64 `json:"per_trial" parquet:"per_trial,list"`
	SNR      float64   `json:"snr_db" parquet:"snr_db"` // <SNR> over blocks, all complete trials merged
	BlockSNR []float64 `json:"block_snr_db" parquet:"block_snr_db,list"`
	// Hardware (when the model's architecture is known): K/V slices, and
	// the attention's area and energy per image with their saving against
	// the untransformed setting.
	KVSlices        int     `json:"kv_slices,omitempty" parquet:"kv_slices"`
	AttnAreaMM2     float64 `json:"attention_area_mm2,omitempty" parquet:"attention_area_mm2"`
	AttnEnergyUJ    float64 `json:"attention_energy_uj,omitempty" parquet:"attention_energy_uj"`
	AreaSavingPct   float64 `json:"attention_area_saving_percent,omitempty" parquet:"attention_area_saving_percent"`
	EnergySavingPct float64 `json:"attention_energy_saving_percent,omitempty" parquet:"attention_energy_saving_percent"`
	Shards          int     `json:"shards_done" parquet:"shards_done"`
	Failed          int     `json:"shards_failed" parquet:"shards_failed"`
	AllShards       int     `json:"shards_total" parquet:"shards_total"`
	// Calibration names the images the static K/V scales came from, as the
	// point's shards report them; "" with the dynamic K/V scale.
	Calibration string `json:"calibration,omitempty" parquet:"calibration"`
	// Decision is an adaptive sweep's verdict on the point (winner, tied,
	// undecided, dropped; or a precision target's status), with the round
	// it was taken at, the paired gain of the setting it was compared
	// with over this one, its half-width and p-value, and the images it
	// evaluated. Empty for a full grid.
	Decision      string  `json:"decision,omitempty" parquet:"decision"`
	DecisionRound int     `json:"decision_round,omitempty" parquet:"decision_round"`
	PairedGain    float64 `json:"paired_gain,omitempty" parquet:"paired_gain"`
	PairedHalf    float64 `json:"paired_gain_ci,omitempty" parquet:"paired_gain_ci"`
	PValue        float64 `json:"p_value,omitempty" parquet:"p_value"`
	Evaluated     int64   `json:"evaluated_images,omitempty" parquet:"evaluated_images"`
	// BaselineGain is the paired gain over the race's baseline setting of
	// the group, with its half-width and p-value.
	BaselineGain float64 `json:"baseline_gain,omitempty" parquet:"baseline_gain"`
	BaselineHalf float64 `json:"baseline_gain_ci,omitempty" parquet:"baseline_gain_ci"`
	BaselineP    float64 `json:"baseline_p_value,omitempty" parquet:"baseline_p_value"`
}

// Finite maps +-Inf and NaN (no noise, no images) to values every format
// can carry: 999 dB for a noise-free SNR, 0 otherwise.
func Finite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return 999
	case math.IsNaN(v) || math.IsInf(v, -1):
		return 0
	}
	return v
}

// Rows builds one row per grid point. Only complete trials count towards
// accuracy and SNR, so partial results never mix image subsets.
func Rows(sweepID string, spec *cfpb.SweepSpec, results []*cfpb.PointResult) []Row {
	full := 0 // images of a complete trial
	if spec != nil {
		if lay, err := sweep.NewLayout(spec); err == nil {
			full = lay.Images
		}
	}
	var rows []Row
	for _, pr := range results {
		p := pr.Point
		r := Row{Sweep: sweepID, Point: int(p.Index), Gamma: p.Gamma, SigmaR: p.SigmaR, SigmaW: p.SigmaW,
			Shards: int(pr.ShardsDone), Failed: int(pr.ShardsFailed), AllShards: int(pr.ShardsTotal), Clip: "off"}
		if c := p.Clip; c != nil && !c.Off {
			r.ClipOn, r.Alpha, r.Beta = true, c.Alpha, c.Beta
			r.Clip = fmt.Sprintf("alpha=%g beta=%g", c.Alpha, c.Beta)
		}
		var dev []string
		for i, v := range p.Device {
			if spec != nil && i < len(spec.Grid.GetDevice()) {
				dev = append(dev, spec.Grid.Device[i].Field+"="+v)
			}
		}
		r.Device = strings.Join(dev, " ")
		if spec != nil && spec.Pruning != nil {
			pr := simspec.Pruning(spec)
			r.Pruning = pr.String()
		}
		merged := &sim.Result{}
		var accs []float64
		images := 0
		if d := pr.Decision; d != nil {
			r.Decision, r.DecisionRound, r.PairedGain, r.PairedHalf, r.PValue, r.Evaluated = d.Status, int(d.Round), d.Gain, d.Half, d.PValue, d.Images
			r.BaselineGain, r.BaselineHalf, r.BaselineP = d.BaselineGain, d.BaselineHalf, d.BaselinePValue
		}
		for _, t := range pr.Trials {
			// An adaptive sweep evaluates the same image blocks in every
			// trial of a point, rarely all of them: its trials count.
			if full > 0 && int(t.Images) != full && pr.Decision == nil {
				continue // incomplete trial
			}
			if t.Images == 0 {
				continue
			}
			r.Calibration = sweep.MergeCalibration(r.Calibration, t.Calibration)
			res := simspec.Result(t)
			accs = append(accs, res.Accuracy())
			images = res.Images
			merged.Merge(res)
		}
		r.Trials, r.Images, r.PerTrial = len(accs), images, accs
		if len(accs) > 0 {
			iv := sim.Summarize(accs, images)
			r.Accuracy, r.Std, r.CI95 = iv.Mean, iv.Std, iv.Half
			r.SNR = Finite(merged.MeanSNR())
			for b := range merged.Signal {
				r.BlockSNR = append(r.BlockSNR, Finite(merged.BlockSNR(b)))
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteTable prints the rows as an aligned text table.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hasDev, hasR, hasW := false, false, false
	for _, r := range rows {
		hasDev = hasDev || r.Device != ""
		hasR = hasR || r.SigmaR != rows[0].SigmaR
		hasW = hasW || r.SigmaW != rows[0].SigmaW
	}
	head := []string{"gamma", "ClipFormer"}
	if hasW {
		head = append(head, "sigma_w")
	}
	if hasR {
		head = append(head, "sigma_r")
	}
	if hasDev {
		head = append(head, "device")
	}
	hasHW := len(rows) > 0 && rows[0].KVSlices > 0
	head = append(head, "trials", "images", "accuracy %", "+-95%", "<SNR> dB")
	if hasHW {
		head = append(head, "K/V slices", "attn area/energy saving %")
	}
	head = append(head, "shards")
	hasDecision, hasBaseline := len(rows) > 0 && rows[0].Decision != "", false
	for _, r := range rows {
		hasBaseline = hasBaseline || r.BaselineHalf > 0
	}
	if hasDecision {
		head = append(head, "decision", "round", "paired gain of the best", "p")
	}
	if hasBaseline {
		head = append(head, "gain over baseline", "p")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		cells := []string{fmt.Sprintf("%g", r.Gamma), r.Clip}
		if hasW {
			cells = append(cells, fmt.Sprintf("%g", r.SigmaW))
		}
		if hasR {
			cells = append(cells, fmt.Sprintf("%g", r.SigmaR))
		}
		if hasDev {
			cells = append(cells, r.Device)
		}
		acc, ci, snr := "-", "-", "-"
		if r.Trials > 0 {
			acc, ci, snr = fmt.Sprintf("%.2f", r.Accuracy), fmt.Sprintf("%.2f", r.CI95), fmt.Sprintf("%.2f", r.SNR)
			if r.SNR == 999 {
				snr = "inf"
			}
		}
		shards := fmt.Sprintf("%d/%d", r.Shards, r.AllShards)
		if r.Failed > 0 {
			shards += fmt.Sprintf(" (%d failed)", r.Failed)
		}
		cells = append(cells, fmt.Sprint(r.Trials), fmt.Sprint(r.Images), acc, ci, snr)
		if hasHW {
			cells = append(cells, fmt.Sprint(r.KVSlices), fmt.Sprintf("%.1f / %.1f", r.AreaSavingPct, r.EnergySavingPct))
		}
		cells = append(cells, shards)
		if hasDecision {
			cells = append(cells, r.Decision, fmt.Sprint(r.DecisionRound), fmt.Sprintf("%+.2f +- %.2f", r.PairedGain, r.PairedHalf), fmtP(r.PValue))
		}
		if hasBaseline && r.BaselineHalf > 0 {
			cells = append(cells, fmt.Sprintf("%+.2f +- %.2f", r.BaselineGain, r.BaselineHalf), fmtP(r.BaselineP))
		} else if hasBaseline {
			cells = append(cells, "-", "-")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

// AddHardware fills the rows' hardware columns for a model architecture,
// with the cost table t.
func AddHardware(rows []Row, spec *cfpb.SweepSpec, results []*cfpb.PointResult, c vit.Config, t cost.Table) error {
	prune := simspec.Pruning(spec)
	for i := range rows {
		st, err := simspec.Setting(spec, results[i].Point, 0)
		if err != nil {
			return err
		}
		h := sim.HardwareCountsPruned(c, st.Profile, st.Clip, &prune)
		e := cost.Of(h, st.Profile, t)
		r := &rows[i]
		r.KVSlices = h.KVSlices
		r.AttnAreaMM2, r.AttnEnergyUJ = e.Attention.AreaMM2, e.Attention.EnergyPJ()/1e6
		r.AreaSavingPct, r.EnergySavingPct = 100*e.AreaSaving(), 100*e.EnergySaving()
	}
	return nil
}
