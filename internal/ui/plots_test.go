package ui

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/figure"
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

// A line is `<path class="series" data-series="LABEL" d="M x,y L x,y ...">`,
// one M or L per point.
var seriesRE = regexp.MustCompile(`<path class="series" data-series="([^"]*)" d="([^"]*)"`)

func pointsOf(d string) int { return strings.Count(d, "M") + strings.Count(d, "L") }

var ctx0 = figure.Context{Model: "vit-mnist"}

func TestAccuracyPlotHasOneLinePerSettingWithAPointPerGamma(t *testing.T) {
	rows := doneRows(t)
	svg := string(PlotVersusGamma(ctx0, rows, false))
	m := seriesRE.FindAllStringSubmatch(svg, -1)
	var got []string
	for _, s := range m {
		got = append(got, s[1])
		if n := pointsOf(s[2]); n != 3 {
			t.Errorf("line %q has %d points, want one per gamma (3)", s[1], n)
		}
	}
	want := []string{"ClipFormer off", "alpha=2 beta=0.25", "alpha=2 beta=0.5", "alpha=4 beta=0.25", "alpha=4 beta=0.5"}
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
	if !strings.Contains(svg, "vit-mnist") {
		t.Error("the title does not name the model")
	}
}

// The SVG sits inline in an HTML5 page: no XML declaration, the page's
// class on the root, and well-formed.
func TestPlotsAreInlineSVG(t *testing.T) {
	rows := doneRows(t)
	for name, svg := range map[string]template.HTML{
		"accuracy": PlotVersusGamma(ctx0, rows, false), "snr": PlotVersusGamma(ctx0, rows, true),
		"heat": PlotGainHeatmap(ctx0, rows, 2), "best": PlotBestPerGamma(ctx0, rows), "blocks": PlotBlockSNR(ctx0, rows, 4),
		"empty": PlotVersusGamma(ctx0, nil, false),
	} {
		s := string(svg)
		if !strings.HasPrefix(s, `<svg class="plot`) || strings.Contains(s, "<?xml") || !strings.Contains(s, "viewBox=") {
			t.Errorf("%s: not an inline <svg class=\"plot\"> with a viewBox: %.120s", name, s)
		}
		dec := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s: not well-formed: %v", name, err)
				break
			}
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
	for _, m := range seriesRE.FindAllStringSubmatch(string(PlotVersusGamma(ctx0, rows, false)), -1) {
		points += pointsOf(m[2])
	}
	if points != 14 {
		t.Errorf("%d points drawn, want 14 (those with a complete trial)", points)
	}
	if svg := string(PlotVersusGamma(ctx0, nil, false)); !strings.Contains(svg, "nothing to plot yet") {
		t.Errorf("an empty sweep's plot: %s", svg)
	}
}

// A noise-free SNR (999 dB) has no finite value: it is left out, not drawn
// at the top of the axis.
func TestSNRPlotsLeaveOutNoiseFreePoints(t *testing.T) {
	rows := doneRows(t)
	count := func(svg template.HTML) (lines, points int) {
		for _, m := range seriesRE.FindAllStringSubmatch(string(svg), -1) {
			lines, points = lines+1, points+pointsOf(m[2])
		}
		return lines, points
	}
	lines, points := count(PlotVersusGamma(ctx0, rows, true))
	blockLines, blockPoints := count(PlotBlockSNR(ctx0, rows, 4))
	for i := range rows {
		if rows[i].Gamma == 4 && !rows[i].ClipOn {
			rows[i].SNR = 999
			rows[i].BlockSNR = slices.Clone(rows[i].BlockSNR)
			rows[i].BlockSNR[1] = 999
		}
	}
	if l, p := count(PlotVersusGamma(ctx0, rows, true)); l != lines || p != points-1 {
		t.Errorf("<SNR> plot with one noise-free point: %d lines, %d points; want %d, %d", l, p, lines, points-1)
	}
	if l, p := count(PlotBlockSNR(ctx0, rows, 4)); l != blockLines || p != blockPoints-1 {
		t.Errorf("block plot with one noise-free block: %d lines, %d points; want %d, %d", l, p, blockLines, blockPoints-1)
	}
}

func TestGainHeatmapHasACellPerAlphaBeta(t *testing.T) {
	rows := doneRows(t)
	svg := string(PlotGainHeatmap(ctx0, rows, 2))
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
	cell := regexp.MustCompile(`class="cell" data-series="alpha=2 beta=0.25 gain=([^"]*)"`).FindStringSubmatch(svg)
	if want := fmt.Sprintf("%+.2f", a2b25-off); cell == nil || cell[1] != want {
		t.Errorf("the (2, 0.25) cell: got %q, want the gain %s", cell, want)
	}
	if svg := string(PlotGainHeatmap(ctx0, rows, 3)); !strings.Contains(svg, "no results at gamma 3") {
		t.Errorf("a gamma without results: %.200s", svg)
	}
}

func TestBestAndBlockPlots(t *testing.T) {
	rows := doneRows(t)
	best := seriesRE.FindAllStringSubmatch(string(PlotBestPerGamma(ctx0, rows)), -1)
	if len(best) != 2 || best[0][1] != "ClipFormer off" || best[1][1] != "best (alpha, beta) at each gamma" {
		t.Errorf("best plot lines: %q", best)
	}
	blocks := seriesRE.FindAllStringSubmatch(string(PlotBlockSNR(ctx0, rows, 4)), -1)
	if len(blocks) != 5 {
		t.Fatalf("%d block lines at gamma 4, want 5 (one per setting)", len(blocks))
	}
	for _, b := range blocks {
		if n := pointsOf(b[2]); n != 4 {
			t.Errorf("line %q: %d blocks drawn, want 4", b[1], n)
		}
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

// The page serves the font the plots' text was laid out in, under the name
// their SVG gives it, so that labels keep their measured widths in a
// browser that lacks it.
func TestPageServesTheFiguresFont(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Source: newStateSource()})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.Host = "127.0.0.1:8080"
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	font := get("/static/figure-font.ttf")
	if font.Code != 200 || font.Header().Get("Content-Type") != "font/ttf" || !bytes.Equal(font.Body.Bytes(), figure.FontTTF) {
		t.Errorf("font: %d %q, %d bytes", font.Code, font.Header().Get("Content-Type"), font.Body.Len())
	}
	css := get("/static/style.css").Body.String()
	face := regexp.MustCompile(`@font-face \{ font-family: "([^"]+)"; src: url\(/static/figure-font.ttf\)`).FindStringSubmatch(css)
	if face == nil || face[1] != figure.FontFamily {
		t.Errorf("style.css's @font-face: %q, want %q from /static/figure-font.ttf", face, figure.FontFamily)
	}
}
