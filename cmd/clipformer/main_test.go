package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/sim/safetensors"
	"github.com/clipformer/clipformer/sim/vit"
)

// mnistShapedModel writes a small random ViT for 28 x 28 grey images.
func mnistShapedModel(t *testing.T) string {
	t.Helper()
	c := vit.Config{Arch: "test-mnist", ImgSize: 28, InChans: 1, Patch: 7, Dim: 64, Depth: 2, Heads: 1, MLPHidden: 128, Classes: 10,
		Mean: []float32{0.13}, Std: []float32{0.31}}
	m, err := vit.Synth(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := safetensors.Write(path, m.Tensors(), m.Metadata(), "F32"); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("CLIPFORMER_CACHE", t.TempDir())
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestEvalPrintsAccuracySNRAndHardware(t *testing.T) {
	model := mnistShapedModel(t)
	out, _, err := runCmd(t, "eval", "--model", model, "--data", "mnist", "--limit", "24", "--gamma", "3", "--clip", "2,0.25", "--trials", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"accuracy", "95 % CI", "2 trials", "on 24 images", "<SNR>", "K/V slices 3 (untransformed 4)", "images/s", "static, calibrated on 256 images"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// --cpuprofile writes a profile pprof can read; a folder that does not
// exist is an error naming the flag.
func TestEvalCPUProfile(t *testing.T) {
	model := mnistShapedModel(t)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if _, _, err := runCmd(t, "eval", "--model", model, "--data", "mnist", "--limit", "8", "--gamma", "2", "--cpuprofile", prof); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(prof)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof profiles are gzipped protobuf
		t.Fatalf("profile %s: %d bytes, %v", prof, len(b), err)
	}
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.prof")
	if _, _, err := runCmd(t, "eval", "--model", model, "--data", "mnist", "--limit", "8", "--cpuprofile", bad); err == nil || !strings.Contains(err.Error(), "--cpuprofile") {
		t.Fatalf("unwritable profile: got %v", err)
	}
}

func TestEvalJSONAndPredictions(t *testing.T) {
	model := mnistShapedModel(t)
	preds := filepath.Join(t.TempDir(), "p.csv")
	out, _, err := runCmd(t, "eval", "--model", model, "--data", "mnist", "--start", "100", "--limit", "10", "--gamma", "2",
		"--kv-scale", "dynamic", "--json", "--predictions", preds)
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if rep.Images != 10 || rep.Start != 100 || rep.SNR == nil || len(rep.SNR.Blocks) != 2 || rep.KVScale != "dynamic" || rep.Hardware == nil {
		t.Fatalf("unexpected report: %+v", rep)
	}
	f, err := os.Open(preds)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 11 || len(rows[0]) != 4+10 || rows[1][1] != "100" {
		t.Fatalf("predictions: %d rows, header %v, first %v", len(rows), rows[0], rows[1])
	}
}

func TestEvalBadInputNamesWhatIsWrong(t *testing.T) {
	model := mnistShapedModel(t)
	profile := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(profile, []byte("sigma_w: -2\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", filepath.Join(t.TempDir(), "none.safetensors")}, "none.safetensors"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--clip", "2"}, "--clip"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--clip", "0.5,0.25"}, "alpha"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--profile", profile}, "sigma_w"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--granularity", "cell"}, "granularity"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--path", "fast", "--adc-bits", "6"}, "reference path"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--start", "70000"}, "beyond"},
		{[]string{"eval", "--model", model, "--data", "nowhere-set"}, "nowhere-set"},
		{[]string{"model", "synth", "--arch", "deit-huge", "--out", "x"}, "deit-huge"},
		{[]string{"frobnicate"}, "frobnicate"},
	}
	for _, tc := range cases {
		_, _, err := runCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestModelSynthAndInspectDeiTSmallDistilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.safetensors")
	if _, _, err := runCmd(t, "model", "synth", "--arch", "deit-small-distilled", "--out", path, "--dtype", "BF16"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "model", "inspect", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"12 blocks, dim 384, 6 heads of 64, mlp 1536, 198 tokens", "distilled", "dist_token", "head_dist.weight", "[1000 384]"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestProfilePrintsYAML(t *testing.T) {
	out, _, err := runCmd(t, "profile")
	if err != nil || !strings.Contains(out, "sigma_w:") || !strings.Contains(out, "kv_scale: static") {
		t.Fatalf("got %q, %v", out, err)
	}
}

// A cached calibration gives the same scales, so the same results, as a
// fresh one; a corrupt cache entry is recomputed.
func TestCalibrationCacheIsTransparent(t *testing.T) {
	model := mnistShapedModel(t)
	args := []string{"eval", "--model", model, "--data", "mnist", "--limit", "8", "--gamma", "3", "--json"}
	first, _, err := runCmd(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("CLIPFORMER_CACHE", dir)
	var out [3]string
	for i := range out {
		var o, e bytes.Buffer
		if err := run(context.Background(), args, &o, &e); err != nil {
			t.Fatal(err)
		}
		out[i] = o.String()
		if i == 1 {
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(files) != 1 {
				t.Fatalf("cache holds %d entries, want 1", len(files))
			}
			os.WriteFile(files[0], []byte("{not json"), 0o644)
		}
	}
	strip := func(s string) string { // timings differ between runs
		var r map[string]any
		json.Unmarshal([]byte(s), &r)
		delete(r, "elapsed_seconds")
		delete(r, "images_per_second")
		b, _ := json.Marshal(r)
		return string(b)
	}
	for i, o := range out {
		if strip(o) != strip(first) {
			t.Fatalf("run %d with the cache differs from the uncached run:\n%s\n%s", i, o, first)
		}
	}
}

func TestHWPrintsCountsAreaEnergyAndSources(t *testing.T) {
	out, _, err := runCmd(t, "hw", "--model", mnistShapedModel(t), "--sources")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"K/V slices 3 (untransformed 4)", "attention (qkv, proj, K^T, V)", "saving", "source     adc_energy_pj_per_conversion: ", "ISAAC"} {
		if !strings.Contains(out, want) {
			t.Errorf("hw output lacks %q:\n%s", want, out)
		}
	}
	js, _, err := runCmd(t, "hw", "--model", mnistShapedModel(t), "--clip", "off", "--json")
	if err != nil || !strings.Contains(js, `"attention_area_saving_percent": 0`) {
		t.Fatalf("%v\n%s", err, js)
	}
}

// The committed result CSVs regenerate the committed reproduction tables
// exactly: docs/REPRODUCTION-TABLES.md is `clipformer report docs/results`
// under the header scripts/reproduce.sh writes.
func TestReportRegeneratesTheCommittedTables(t *testing.T) {
	out, _, err := runCmd(t, "report", filepath.Join("..", "..", "docs", "results"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "REPRODUCTION-TABLES.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(committed), out) {
		t.Fatal("docs/REPRODUCTION-TABLES.md is stale: run scripts/reproduce.sh --report-only")
	}
	for _, want := range []string{"Table II analogue", "| 4 | 10000 x 3 | 60.29 ± 0.96 | 63.51 ± 0.09 (2, 0.25) |", "Table III analogue"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("gamma,clip,accuracy\n4,off,high\n"), 0o644)
	if _, _, err := runCmd(t, "report", dir); err == nil || !strings.Contains(err.Error(), "bad.csv:2") {
		t.Fatalf("a bad CSV gave %v, want an error naming bad.csv:2", err)
	}
}
