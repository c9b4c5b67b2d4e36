package ui

import (
	"bytes"
	"fmt"
	"image/png"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// doneRows are the rows of a fully done smallSpec sweep.
func doneRows(t *testing.T) []report.Row {
	t.Helper()
	src := newStateSource()
	spec := mustSpec(t, smallSpec)
	id := src.submit(t, "s1", spec, 120, 0)
	res, err := src.Results(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return report.Rows(id, spec, res)
}

var seriesRE = regexp.MustCompile(`<polyline class="series" data-setting="([^"]*)" points="([^"]*)"`)

func TestAccuracyPlotHasOneLinePerSettingWithAPointPerGamma(t *testing.T) {
	rows := doneRows(t)
	svg := string(PlotVersusGamma(rows, false))
	m := seriesRE.FindAllStringSubmatch(svg, -1)
	var got []string
	for _, s := range m {
		got = append(got, s[1])
		if n := len(strings.Fields(s[2])); n != 3 {
			t.Errorf("line %q has %d points, want one per gamma (3)", s[1], n)
		}
	}
	want := []string{"off", "alpha=2 beta=0.25", "alpha=2 beta=0.5", "alpha=4 beta=0.25", "alpha=4 beta=0.5"}
	if !slices.Equal(got, want) {
		t.Errorf("lines: got %q, want %q", got, want)
	}
	// An error bar for every point whose two trials differ.
	bars := 0
	for _, r := range rows {
		if r.CI95 > 0 {
			bars++
		}
	}
	if n := strings.Count(svg, `class="errbar"`); n != bars || bars == 0 {
		t.Errorf("%d error bars, want %d (and some)", n, bars)
	}
	// Ticks on the grid's gammas, not on round numbers between them.
	for _, tick := range []string{`>0</text>`, `>2</text>`, `>4</text>`} {
		if !strings.Contains(svg, tick) {
			t.Errorf("no gamma tick %s", tick)
		}
	}
}

func TestPlotsSkipPointsWithoutACompleteTrial(t *testing.T) {
	src := newStateSource()
	spec := mustSpec(t, smallSpec)
	// Shards go trial by trial, points interleaved: the first 59 complete
	// the first trial of every point but one.
	id := src.submit(t, "s1", spec, 59, 0)
	res, _ := src.Results(t.Context(), id)
	rows := report.Rows(id, spec, res)
	points := 0
	for _, m := range seriesRE.FindAllStringSubmatch(string(PlotVersusGamma(rows, false)), -1) {
		points += len(strings.Fields(m[2]))
	}
	if points != 14 {
		t.Errorf("%d points drawn, want 14 (those with a complete trial)", points)
	}
	if svg := string(PlotVersusGamma(nil, false)); !strings.Contains(svg, "nothing to plot yet") {
		t.Errorf("an empty sweep's plot: %s", svg)
	}
}

func TestGainHeatmapHasACellPerAlphaBeta(t *testing.T) {
	rows := doneRows(t)
	svg := string(PlotGainHeatmap(rows, 2))
	if n := strings.Count(svg, `class="cell"`); n != 4 {
		t.Errorf("%d cells, want 4 (2 alphas x 2 betas)", n)
	}
	var off, a2b25 float64
	for _, r := range rows {
		if r.Gamma == 2 && !r.ClipOn {
			off = r.Accuracy
		}
		if r.Gamma == 2 && r.Alpha == 2 && r.Beta == 0.25 {
			a2b25 = r.Accuracy
		}
	}
	cell := regexp.MustCompile(`data-alpha="2" data-beta="0.25"[^>]*/><text class="cellv"[^>]*>([^<]*)<`).FindStringSubmatch(svg)
	if want := fmt.Sprintf("%+.2f", a2b25-off); cell == nil || cell[1] != want {
		t.Errorf("the (2, 0.25) cell: got %q, want the gain %s", cell, want)
	}
}

func TestBestAndBlockPlots(t *testing.T) {
	rows := doneRows(t)
	best := seriesRE.FindAllStringSubmatch(string(PlotBestPerGamma(report.BestPerGamma(rows))), -1)
	if len(best) != 2 || best[0][1] != "off" || best[1][1] != "best ClipFormer" {
		t.Errorf("best plot lines: %q", best)
	}
	blocks := seriesRE.FindAllStringSubmatch(string(PlotBlockSNR(rows, 4)), -1)
	if len(blocks) != 5 {
		t.Fatalf("%d block lines at gamma 4, want 5", len(blocks))
	}
	if n := len(strings.Fields(blocks[0][2])); n != 4 {
		t.Errorf("%d blocks drawn, want 4", n)
	}
}

func TestShardMapCountsEveryCategory(t *testing.T) {
	shards := []Shard{
		{State: cfpb.ShardState_SHARD_STATE_DONE}, {State: cfpb.ShardState_SHARD_STATE_DONE},
		{State: cfpb.ShardState_SHARD_STATE_LEASED, Attempt: 1},
		{State: cfpb.ShardState_SHARD_STATE_PENDING, Attempt: 2, Failures: 1, LastError: "boom"},
		{State: cfpb.ShardState_SHARD_STATE_FAILED, Attempt: 3, LastError: "bad"},
		{State: cfpb.ShardState_SHARD_STATE_PENDING}, {State: cfpb.ShardState_SHARD_STATE_CANCELLED},
	}
	m := newShardMap(shards)
	got := map[string]int{}
	for _, c := range m.Counts {
		got[c.Name] = c.N
	}
	want := map[string]int{"done": 2, "running": 1, "retrying": 1, "failed": 1, "pending": 1, "cancelled": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d", k, got[k], v)
		}
	}
	if len(m.Failed) != 1 || m.Failed[0].Error != "bad" || len(m.Retries) != 1 || m.Retries[0].Error != "boom" {
		t.Errorf("listed: failed %+v, retrying %+v", m.Failed, m.Retries)
	}
	b, err := shardPNG(shards)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// 7 shards get 16-pixel cells in one row.
	if r := img.Bounds(); r.Dx() != 7*16 || r.Dy() != 16 {
		t.Errorf("shard map %v, want 112x16", r)
	}
}
