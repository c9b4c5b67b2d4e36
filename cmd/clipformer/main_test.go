package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/dataset"
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

// A profile file without sigma_w followed by --granularity takes the
// calibration of the granularity the flag sets, and eval --json reports it;
// a sigma_w the file sets stays.
func TestEvalProfileFileAndGranularityFlagReportTheSigmaWUsed(t *testing.T) {
	model := mnistShapedModel(t)
	dir := t.TempDir()
	for i, c := range []struct {
		yaml, granularity string
		want              float64
	}{
		{"adc_bits: 0\n", "value", 0.311},
		{"granularity: value\n", "slice", 0.483},
		{"sigma_w: 0.2\n", "value", 0.2},
	} {
		profile := filepath.Join(dir, fmt.Sprintf("f%d.yaml", i))
		if err := os.WriteFile(profile, []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := runCmd(t, "eval", "--model", model, "--data", "mnist", "--limit", "4", "--gamma", "2", "--kv-scale", "dynamic",
			"--profile", profile, "--granularity", c.granularity, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Profile struct {
				SigmaW      *float64 `json:"sigma_w"`
				Granularity string   `json:"granularity"`
			} `json:"profile"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, out)
		}
		if rep.Profile.SigmaW == nil || *rep.Profile.SigmaW != c.want || rep.Profile.Granularity != c.granularity {
			got := "null"
			if rep.Profile.SigmaW != nil {
				got = fmt.Sprint(*rep.Profile.SigmaW)
			}
			t.Errorf("%q with --granularity %s: profile.sigma_w %s, granularity %q; want %v, %s", c.yaml, c.granularity,
				got, rep.Profile.Granularity, c.want, c.granularity)
		}
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

// imageFolder writes root/CLASS/NN.png for classes c0, c1, ... with perClass
// images each; shade makes one folder's pictures differ from another's.
func imageFolder(t *testing.T, root string, classes, perClass int, shade uint8) string {
	t.Helper()
	for c := 0; c < classes; c++ {
		dir := filepath.Join(root, fmt.Sprintf("c%d", c))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perClass; i++ {
			img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
			for p := 0; p < 40*30; p++ {
				x, y := p%40, p/40
				img.Pix[4*p] = uint8(x*6) + shade
				img.Pix[4*p+1] = uint8(y*8 + 40*c)
				img.Pix[4*p+2] = uint8((x*y+50*i)%256) ^ shade
				img.Pix[4*p+3] = 255
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.png", i)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func evalJSON(t *testing.T, args ...string) evalReport {
	t.Helper()
	out, _, err := runCmd(t, append([]string{"eval", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return rep
}

// An image folder with train/ and val/ calibrates on train/, never on the
// images it evaluates, and the report names the set.
func TestEvalFolderCalibratesOnItsTrainSplit(t *testing.T) {
	root := t.TempDir()
	imageFolder(t, filepath.Join(root, "train"), 3, 2, 0)
	imageFolder(t, filepath.Join(root, "val"), 3, 1, 90)
	rep := evalJSON(t, "--model", simtest.RGBModel(t, 3, 7), "--data", "folder:"+root, "--gamma", "2")
	want := filepath.Base(root) + "-train"
	if rep.Images != 3 || rep.Calibration == nil || rep.Calibration.Set != want || rep.Calibration.Images != 6 {
		t.Fatalf("evaluated %d images, calibration %+v; want 3 images evaluated, 6 of %s calibrating", rep.Images, rep.Calibration, want)
	}
}

// A folder without a train split calibrates on a class-stratified sample of
// itself: with calibration_images 3 and images sorted by class, the first
// three would all be class 0; the sample takes one of each class.
func TestEvalFolderWithoutTrainCalibratesOnAClassStratifiedSample(t *testing.T) {
	root := imageFolder(t, filepath.Join(t.TempDir(), "imgs"), 3, 4, 0)
	profile := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(profile, []byte("calibration_images: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := evalJSON(t, "--model", simtest.RGBModel(t, 3, 7), "--data", "folder:"+root, "--profile", profile, "--gamma", "2", "--limit", "2")
	if rep.Calibration == nil || !strings.Contains(rep.Calibration.Set, "class-stratified") || rep.Calibration.Images != 3 {
		t.Fatalf("calibration %+v, want 3 images of a class-stratified sample", rep.Calibration)
	}
	// The sample is the first image of each class.
	data, err := dataset.Open("folder:"+root, "test")
	if err != nil {
		t.Fatal(err)
	}
	calib, err := dataset.CalibrationSet("folder:"+root, data, dataset.Open)
	if err != nil {
		t.Fatal(err)
	}
	var labels []int
	img := make([]float32, 3*224*224)
	for i := 0; i < 3; i++ {
		l, err := calib.Image(i, img)
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, l)
	}
	if fmt.Sprint(labels) != "[0 1 2]" {
		t.Fatalf("the calibration sample's labels are %v, want one image of each class", labels)
	}
}

// Two folders with the same name but other images get their own cache
// entries: the second evaluation with the shared cache equals one with a
// fresh cache.
func TestCalibrationCacheKeysOnTheImagesNotTheFolderName(t *testing.T) {
	a := imageFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 0)
	b := imageFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 120)
	model := simtest.RGBModel(t, 2, 7)
	evalWith := func(cache, dir string) string {
		t.Helper()
		t.Setenv("CLIPFORMER_CACHE", cache)
		var o, e bytes.Buffer
		if err := run(context.Background(), []string{"eval", "--model", model, "--data", "folder:" + dir, "--gamma", "2", "--json"}, &o, &e); err != nil {
			t.Fatal(err)
		}
		var r map[string]any
		json.Unmarshal(o.Bytes(), &r)
		delete(r, "elapsed_seconds") // timings differ between runs
		delete(r, "images_per_second")
		s, _ := json.Marshal(r)
		return string(s)
	}
	shared := t.TempDir()
	first := evalWith(shared, a)
	second := evalWith(shared, b)
	fresh := evalWith(t.TempDir(), b)
	if second != fresh {
		t.Fatalf("folder b evaluated after folder a of the same name reused a's calibration:\nshared cache %s\nfresh cache  %s", second, fresh)
	}
	if first == second {
		t.Fatal("folders with other images gave the same results: the test cannot tell them apart")
	}
	if files, _ := filepath.Glob(filepath.Join(shared, "*.json")); len(files) != 2 {
		t.Fatalf("the cache holds %d entries after two folders, want 2", len(files))
	}
}

// Every key of eval's JSON, nested ones included, is snake_case.
func TestEvalJSONKeysAreSnakeCase(t *testing.T) {
	root := imageFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 0)
	out, _, err := runCmd(t, "eval", "--json", "--model", simtest.RGBModel(t, 2, 7), "--data", "folder:"+root, "--gamma", "2", "--clip", "2,0.25", "--prune-blocks", "0")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var keys int
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys++
				if !snake.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("", v)
	for _, want := range []string{`"hardware"`, `"matrices"`, `"calibration"`, `"profile"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %s, so the walk did not check it", want)
		}
	}
	t.Logf("%d keys checked", keys)
}

// Without --data, eval takes the data set the checkpoint's metadata names;
// a checkpoint naming none needs --data.
func TestEvalDefaultsTheDatasetFromTheCheckpoint(t *testing.T) {
	rep := evalJSON(t, "--model", filepath.Join("..", "..", "models", "vit-mnist.safetensors"), "--limit", "8", "--ideal")
	if rep.Dataset != "mnist-test" {
		t.Fatalf("the MNIST model without --data evaluated %s, want mnist-test", rep.Dataset)
	}
	model := mnistShapedModel(t)
	_, _, err := runCmd(t, "eval", "--model", model, "--limit", "8")
	if err == nil || !strings.Contains(err.Error(), "--data") || !strings.Contains(err.Error(), model) {
		t.Fatalf("a checkpoint naming no data set, without --data: got %v, want an error naming it and --data", err)
	}
}

// A data set whose channels, size or classes differ from the model's is
// refused with an error naming both.
func TestEvalRefusesADatasetThatDoesNotFitTheModel(t *testing.T) {
	five := func() string {
		c := vit.Config{Arch: "five", ImgSize: 28, InChans: 1, Patch: 7, Dim: 32, Depth: 1, Heads: 1, MLPHidden: 32, Classes: 5,
			Mean: []float32{0.13}, Std: []float32{0.31}}
		m, err := vit.Synth(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "five.safetensors")
		if err := safetensors.Write(p, m.Tensors(), m.Metadata(), "F32"); err != nil {
			t.Fatal(err)
		}
		return p
	}()
	rgb := simtest.RGBModel(t, 10, 7)
	for _, tc := range []struct {
		model string
		want  []string
	}{
		{five, []string{five, "5 classes", "mnist-test", "10"}},
		{rgb, []string{rgb, "mnist-test", "1x28x28", "3x224x224"}},
	} {
		_, _, err := runCmd(t, "eval", "--model", tc.model, "--data", "mnist", "--limit", "8")
		if err == nil || !errors.Is(err, dataset.ErrFit) {
			t.Errorf("%s on mnist: got %v, want a refusal", tc.model, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s on mnist: %v does not name %q", tc.model, err, w)
			}
		}
	}
}

// legacyPredictions is the --predictions file as eval wrote it when it held
// every trial's predictions in memory: the streamed file must equal it.
func legacyPredictions(trials [][]sim.Prediction, classes int) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"trial", "index", "label", "prediction"}
	for k := 0; k < classes; k++ {
		head = append(head, fmt.Sprintf("logit_%d", k))
	}
	w.Write(head)
	for t, preds := range trials {
		for _, p := range preds {
			row := []string{strconv.Itoa(t), strconv.Itoa(p.Index), strconv.Itoa(p.Label), strconv.Itoa(p.Pred)}
			for _, l := range p.Logits {
				row = append(row, strconv.FormatFloat(float64(l), 'g', -1, 32))
			}
			w.Write(row)
		}
	}
	w.Flush()
	return buf.Bytes()
}

// The streamed --predictions file is byte for byte the file eval wrote
// from memory, over noisy trials.
func TestEvalPredictionsFileIsUnchanged(t *testing.T) {
	model := mnistShapedModel(t)
	preds := filepath.Join(t.TempDir(), "p.csv")
	args := []string{"eval", "--model", model, "--data", "mnist", "--start", "30", "--limit", "13", "--gamma", "3", "--kv-scale", "dynamic",
		"--trials", "2", "--predictions", preds}
	if _, _, err := runCmd(t, args...); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(preds)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseEvalFlags(args[1:], io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, err := vit.Load(model, vit.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := dataset.Open("mnist", "test")
	if err != nil {
		t.Fatal(err)
	}
	var trials [][]sim.Prediction
	for trial := 0; trial < 2; trial++ {
		s := c.setting
		s.Trial = trial
		r, err := sim.Evaluate(context.Background(), sim.Request{Model: m, Data: data, Start: 30, Count: 13, Setting: s, Predictions: true})
		if err != nil {
			t.Fatal(err)
		}
		trials = append(trials, r.Predictions)
	}
	if want := legacyPredictions(trials, m.Classes); !bytes.Equal(got, want) {
		t.Fatalf("the streamed predictions differ from the in-memory file:\n%s\nwant\n%s", got, want)
	}
}

// evaluateTrial hands predictions out chunk by chunk, never holding more than
// one chunk, and its numbers equal one whole evaluation's.
func TestEvaluateTrialStreamsPredictionsInChunks(t *testing.T) {
	m, err := vit.Load(mnistShapedModel(t), vit.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := dataset.Open("mnist", "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseEvalFlags([]string{"--gamma", "3", "--kv-scale", "dynamic"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	req := sim.Request{Model: m, Data: data, Start: 7, Count: 23, Setting: c.setting, Workers: 2}
	whole := req
	whole.Predictions = true
	want, err := sim.Evaluate(context.Background(), whole)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 5
	var calls, most int
	var got []sim.Prediction
	r, err := evaluateTrial(context.Background(), req, chunk, func(p []sim.Prediction) error {
		calls++
		most = max(most, len(p))
		got = append(got, p...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 5 || most > chunk {
		t.Fatalf("the writer got %d calls of at most %d predictions, want 5 of at most %d", calls, most, chunk)
	}
	if len(r.Predictions) != 0 {
		t.Fatalf("the result still holds %d predictions", len(r.Predictions))
	}
	if fmt.Sprint(got) != fmt.Sprint(want.Predictions) {
		t.Fatal("the chunked predictions differ from one whole evaluation's")
	}
	if r.Images != want.Images || r.Correct != want.Correct || fmt.Sprint(r.Signal, r.Noise) != fmt.Sprint(want.Signal, want.Noise) {
		t.Fatalf("chunked result %d/%d %v, whole %d/%d %v", r.Correct, r.Images, r.Noise, want.Correct, want.Images, want.Noise)
	}
}

// `report --figures --specs` titles each figure with its spec's model and
// granularity, and a spec it cannot read is an error naming it.
func TestReportFiguresNameTheSpecsModel(t *testing.T) {
	results, specs, figs := t.TempDir(), t.TempDir(), t.TempDir()
	for _, name := range []string{"table2-mnist", "calibration"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", "results", name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(results, name+".csv"), b, 0o644)
		if b, err = os.ReadFile(filepath.Join("..", "..", "examples", name+".yaml")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(specs, name+".yaml"), b, 0o644)
	}
	if _, _, err := runCmd(t, "report", "--figures", figs, "--specs", specs, results); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		"table2-mnist-accuracy.svg": {"Top-1 accuracy against gamma", "vit-mnist on mnist", "granularity slice", "sigma_r 0"},
		"calibration-accuracy.svg":  {"Top-1 accuracy against sigma_w", "vit-fashion-mnist on fashion-mnist", "granularity slice, value"},
	} {
		b, err := os.ReadFile(filepath.Join(figs, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
	os.WriteFile(filepath.Join(specs, "calibration.yaml"), []byte("grid: [\n"), 0o644)
	if _, _, err := runCmd(t, "report", "--figures", figs, "--specs", specs, results); err == nil || !strings.Contains(err.Error(), "calibration.yaml") {
		t.Fatalf("a bad spec gave %v, want an error naming calibration.yaml", err)
	}
}
