package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/figure"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// A setting a race dropped is marked in the accuracy figure's legend with
// where and when: its accuracy there is over the images evaluated before.
func TestLineSeriesMarksDroppedSettings(t *testing.T) {
	rows := []Row{
		{Gamma: 3, Clip: "off", Trials: 1, Decision: "winner", DecisionRound: 4},
		{Gamma: 3, Clip: "alpha=2 beta=0.125", ClipOn: true, Trials: 1, Decision: "dropped", DecisionRound: 2},
		{Gamma: 4, Clip: "off", Trials: 1, Decision: "undecided", DecisionRound: 4},
		{Gamma: 4, Clip: "alpha=2 beta=0.125", ClipOn: true, Trials: 1, Decision: "dropped", DecisionRound: 5},
	}
	_, ss := LineSeries(rows, figure.Accuracy)
	if len(ss) != 2 || ss[0].Label != "ClipFormer off" || ss[1].Label != "alpha=2 beta=0.125 (dropped at gamma 3 r2, gamma 4 r5)" {
		t.Errorf("labels %q and %q, want the dropped setting's marked", ss[0].Label, ss[1].Label)
	}
}

// The study figures across beta mark, per alpha, the betas a race dropped.
func TestBetaSeriesMarksDroppedSettings(t *testing.T) {
	rows := []Row{
		{Gamma: 4, Clip: "off", Trials: 1, Decision: "winner"},
		{Gamma: 4, Clip: "alpha=2 beta=0.125", ClipOn: true, Alpha: 2, Beta: 0.125, Trials: 1, Decision: "dropped", DecisionRound: 2},
		{Gamma: 4, Clip: "alpha=2 beta=0.25", ClipOn: true, Alpha: 2, Beta: 0.25, Trials: 1, Decision: "undecided", DecisionRound: 4},
		{Gamma: 4, Clip: "alpha=3 beta=0.25", ClipOn: true, Alpha: 3, Beta: 0.25, Trials: 1, Decision: "undecided", DecisionRound: 4},
	}
	ss := BetaSeries(rows, Best{Gamma: 4}, figure.Accuracy)
	if len(ss) != 2 || ss[0].Label != "alpha=2 (dropped at beta 0.125 r2)" || ss[1].Label != "alpha=3" {
		t.Errorf("series %+v: want alpha=2's dropped beta marked", ss)
	}
}

// An adaptive sweep's decisions are the last columns of the results CSV,
// after every column a full grid's CSV has, and its points count the
// trials they evaluated part of.
func TestDecisionColumnsComeLast(t *testing.T) {
	results := []*cfpb.PointResult{{Point: &cfpb.Point{Gamma: 4, Clip: &cfpb.ClipSetting{Alpha: 2, Beta: 0.125}},
		Trials: []*cfpb.Summary{{Images: 300, Correct: 100}}, ShardsDone: 3, ShardsTotal: 10,
		Decision: &cfpb.Decision{Status: "dropped", Round: 3, Gain: 31.2, Half: 4.5, PValue: 1e-6, Images: 300, BaselineGain: -25, BaselineHalf: 3, BaselinePValue: 2e-7}}}
	spec, err := sweep.Parse("s.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 1000}\ngrid: {gamma: [4], clip: [{alpha: 2, beta: 0.125}]}\nrace: {group_by: [sigma_r]}\nimages_per_shard: 100\n"))
	if err == nil || !strings.Contains(err.Error(), "one setting per group") {
		t.Fatalf("a one-setting race: %v", err)
	}
	spec, err = sweep.Parse("s.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 1000}\ngrid: {gamma: [4], clip: [off, {alpha: 2, beta: 0.125}]}\nrace: {}\nimages_per_shard: 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows := Rows("s", spec, results)
	var b bytes.Buffer
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Join(recs[0], ",")
	if !strings.HasSuffix(head, ",calibration,decision,decision_round,paired_gain,paired_gain_ci,p_value,evaluated_images,baseline_gain,baseline_gain_ci,baseline_p_value") {
		t.Errorf("header %s: want the decision columns last, after calibration", head)
	}
	if got := strings.Join(recs[1][len(recs[1])-9:], ","); got != "dropped,3,31.2,4.5,1e-06,300,-25,3,2e-07" {
		t.Errorf("decision cells %s", got)
	}
	back, err := ReadCSV(bytes.NewReader(b.Bytes()), "results.csv")
	if err != nil {
		t.Fatal(err)
	}
	if back[0].Decision != "dropped" || back[0].DecisionRound != 3 || back[0].PValue != 1e-6 || back[0].BaselineGain != -25 || back[0].Evaluated != 300 {
		t.Errorf("read back %+v: the decision columns are lost", back[0])
	}
	if rows[0].Trials != 1 || rows[0].Accuracy < 33.3 || rows[0].Accuracy > 33.4 {
		t.Errorf("row %+v: want the partial trial counted, 33.33 %%", rows[0])
	}
}
