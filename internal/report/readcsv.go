package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadCSV reads rows back from WriteCSV's format; name labels errors. The
// columns are found by their header names, so files written before a column
// was added still read (the missing fields stay zero), but gamma, clip and
// accuracy are required.
func ReadCSV(r io.Reader, name string) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	records, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("%s: empty: no header line", name)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"gamma", "clip", "accuracy"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: header has no %q column: not a results CSV", name, need)
		}
	}
	var rows []Row
	for li, rec := range records[1:] {
		line := li + 2
		if len(rec) != len(records[0]) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(records[0]))
		}
		var perr error
		cell := func(c string) string {
			if i, ok := col[c]; ok {
				return rec[i]
			}
			return ""
		}
		num := func(c string) float64 {
			s := cell(c)
			if s == "" || perr != nil {
				return 0
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				perr = fmt.Errorf("%s:%d: column %s: %q is not a number", name, line, c, s)
			}
			return v
		}
		list := func(c string) []float64 {
			var out []float64
			for _, f := range strings.Fields(cell(c)) {
				v, err := strconv.ParseFloat(f, 64)
				if err != nil && perr == nil {
					perr = fmt.Errorf("%s:%d: column %s: %q is not a number", name, line, c, f)
				}
				out = append(out, v)
			}
			return out
		}
		row := Row{Sweep: cell("sweep"), Point: int(num("point")), Gamma: num("gamma"), Clip: cell("clip"),
			Alpha: num("alpha"), Beta: num("beta"), SigmaR: num("sigma_r"), SigmaW: num("sigma_w"), Device: cell("device"),
			Pruning: cell("pruning"), Trials: int(num("trials")), Images: int(num("images")), Accuracy: num("accuracy"),
			Std: num("std"), CI95: num("ci95"), PerTrial: list("per_trial_accuracy"), SNR: num("snr_db"),
			BlockSNR: list("block_snr_db"), Shards: int(num("shards_done")), Failed: int(num("shards_failed")),
			AllShards: int(num("shards_total")), KVSlices: int(num("kv_slices")), AttnAreaMM2: num("attention_area_mm2"),
			AttnEnergyUJ: num("attention_energy_uj"), AreaSavingPct: num("attention_area_saving_percent"),
			EnergySavingPct: num("attention_energy_saving_percent"), Calibration: cell("calibration"),
			Decision: cell("decision"), DecisionRound: int(num("decision_round")), PairedGain: num("paired_gain"),
			PairedHalf: num("paired_gain_ci"), PValue: num("p_value"), Evaluated: int64(num("evaluated_images")),
			BaselineGain: num("baseline_gain"), BaselineHalf: num("baseline_gain_ci"), BaselineP: num("baseline_p_value")}
		row.ClipOn = row.Clip != "off" && row.Clip != ""
		if perr != nil {
			return nil, perr
		}
		rows = append(rows, row)
	}
	return rows, nil
}
