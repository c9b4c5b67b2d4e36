package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Formats that WriteFormat knows.
var Formats = []string{"csv", "jsonl", "parquet"}

// WriteFormat writes rows as csv, jsonl or parquet.
func WriteFormat(w io.Writer, format string, rows []Row) error {
	switch format {
	case "csv":
		return WriteCSV(w, rows)
	case "jsonl":
		return WriteJSONL(w, rows)
	case "parquet":
		return WriteParquet(w, rows)
	}
	return fmt.Errorf("report: format %q: want csv, jsonl or parquet", format)
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, " ")
}

// WriteCSV writes one line per grid point; per-trial accuracies and
// per-block SNRs are space-separated lists in one cell.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"sweep", "point", "gamma", "clip", "alpha", "beta", "sigma_r", "sigma_w", "device", "trials", "images",
		"accuracy", "std", "ci95", "per_trial_accuracy", "snr_db", "block_snr_db", "shards_done", "shards_failed", "shards_total", "pruning",
		"kv_slices", "attention_area_mm2", "attention_energy_uj", "attention_area_saving_percent", "attention_energy_saving_percent", "calibration",
		"decision", "decision_round", "paired_gain", "paired_gain_ci", "p_value", "evaluated_images",
		"baseline_gain", "baseline_gain_ci", "baseline_p_value"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range rows {
		alpha, beta := "", ""
		if r.ClipOn {
			alpha, beta = g(r.Alpha), g(r.Beta)
		}
		cw.Write([]string{r.Sweep, strconv.Itoa(r.Point), g(r.Gamma), r.Clip, alpha, beta, g(r.SigmaR), g(r.SigmaW), r.Device,
			strconv.Itoa(r.Trials), strconv.Itoa(r.Images), g(r.Accuracy), g(r.Std), g(r.CI95), floats(r.PerTrial),
			g(r.SNR), floats(r.BlockSNR), strconv.Itoa(r.Shards), strconv.Itoa(r.Failed), strconv.Itoa(r.AllShards), r.Pruning,
			strconv.Itoa(r.KVSlices), g(r.AttnAreaMM2), g(r.AttnEnergyUJ), g(r.AreaSavingPct), g(r.EnergySavingPct), r.Calibration,
			r.Decision, strconv.Itoa(r.DecisionRound), g(r.PairedGain), g(r.PairedHalf), g(r.PValue), strconv.FormatInt(r.Evaluated, 10),
			g(r.BaselineGain), g(r.BaselineHalf), g(r.BaselineP)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSONL writes one JSON object per grid point.
func WriteJSONL(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteParquet writes the rows as one Parquet file.
func WriteParquet(w io.Writer, rows []Row) error {
	pw := parquet.NewGenericWriter[Row](w)
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	return pw.Close()
}
