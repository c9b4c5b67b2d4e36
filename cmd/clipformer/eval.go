package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/clipformer/clipformer/internal/config"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// The bundled default model, the Fashion-MNIST one; its metadata names its data set.
const defaultModel = "models/vit-fashion-mnist.safetensors"

// predictionChunk is the most images whose predictions eval holds at once: the
// evaluation runs in chunks of this many and each chunk's rows go to the file as it
// completes. 2048 x 1000 logits is 8 MB; a chunk still gives every worker hundreds
// of batches, so the idle tail at a chunk's end costs little.
const predictionChunk = 2048

// evalConfig is everything `clipformer eval` was asked for.
type evalConfig struct {
	model, data, split, calib, calibSplit string
	profileFile                           string
	heads                                 int
	start, limit                          int
	trials, workers, batch                int
	setting                               sim.Setting
	json                                  bool
	predictions                           string
	cpuProfile                            string
	// profile overrides, applied after --profile
	sigmaW, sigmaR, granularity, kvScale string
	adcBits                              string
	pruneBlocks                          string
}

func parseEvalFlags(args []string, stderr io.Writer) (*evalConfig, error) {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &evalConfig{}
	fs.StringVar(&c.model, "model", defaultModel, "checkpoint (.safetensors, timm ViT/DeiT names)")
	fs.IntVar(&c.heads, "heads", 0, "head count when the checkpoint's metadata lacks it (default: metadata, else dim/64)")
	fs.StringVar(&c.data, "data", "", `dataset: mnist, fashion-mnist, idx:DIR, folder:DIR or a DIR (default: the one the checkpoint's metadata names)`)
	fs.StringVar(&c.split, "split", "test", "split of an IDX dataset: train or test")
	fs.StringVar(&c.calib, "calib", "", "calibration set for the static K/V scale (default: the dataset's train split; an image folder without train/ calibrates on a class-stratified sample of itself)")
	fs.StringVar(&c.calibSplit, "calib-split", "train", "split of the --calib set: train or test")
	fs.IntVar(&c.start, "start", 0, "first image index")
	fs.IntVar(&c.limit, "limit", 0, "images to evaluate (0: all from --start)")
	fs.IntVar(&c.trials, "trials", 1, "Monte-Carlo trials")
	fs.Uint64Var(&c.setting.Seed, "seed", 1, "base seed")
	fs.Float64Var(&c.setting.Gamma, "gamma", 0, "write-noise factor gamma on K and V")
	clip := fs.String("clip", "off", `ClipFormer: "off" or "ALPHA,BETA" (e.g. 2,0.25)`)
	fs.StringVar(&c.profileFile, "profile", "", "device profile YAML (default: the built-in profile)")
	fs.StringVar(&c.sigmaW, "sigma-w", "", "override the profile's write-noise scale sigma_w")
	fs.StringVar(&c.sigmaR, "sigma-r", "", "override the profile's read noise sigma_r")
	fs.StringVar(&c.granularity, "granularity", "", "override the write-noise granularity: slice or value")
	fs.StringVar(&c.kvScale, "kv-scale", "", "override the K/V scale: static or dynamic")
	fs.StringVar(&c.adcBits, "adc-bits", "", "override the ADC resolution (0: ideal; needs the reference path)")
	path := fs.String("path", "", "execution path: fast or reference (default: fast unless the profile needs reference)")
	fs.BoolVar(&c.setting.Ideal, "ideal", false, "run the float model: no crossbar, no quantisation, no noise")
	fs.Float64Var(&c.setting.Prune.KeepRate, "prune-keep", 0.7, "EViT token pruning: share of tokens kept at each --prune-blocks block")
	fs.StringVar(&c.pruneBlocks, "prune-blocks", "", "EViT token pruning: 0-based blocks after whose attention tokens are pruned, e.g. 3,6,9 (default: no pruning)")
	fs.BoolVar(&c.setting.Prune.Fuse, "prune-fuse", true, "EViT token pruning: merge the pruned tokens into one, weighted by class attention")
	fs.IntVar(&c.workers, "workers", 0, "goroutines (0: one per CPU)")
	fs.IntVar(&c.batch, "batch", 0, "images per forward pass (0: 8)")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.StringVar(&c.predictions, "predictions", "", "write per-image label, prediction and logits to this CSV file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the evaluation (after loading and calibration; go tool pprof) to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("eval: unexpected argument %q", fs.Arg(0))
	}
	for _, f := range splitList(c.pruneBlocks) {
		b, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("eval: --prune-blocks %q: %q is not a block index", c.pruneBlocks, f)
		}
		c.setting.Prune.Blocks = append(c.setting.Prune.Blocks, b)
	}
	var err error
	if c.setting.Clip, err = parseClip(*clip); err != nil {
		return nil, err
	}
	c.setting.Path = sim.Path(*path)
	if c.trials < 1 {
		return nil, fmt.Errorf("eval: --trials %d must be at least 1", c.trials)
	}
	if c.start < 0 || c.limit < 0 {
		return nil, fmt.Errorf("eval: --start and --limit must not be negative")
	}
	if c.setting.Profile, err = c.profile(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseClip(s string) (crossbar.ClipFormer, error) {
	if s == "off" || s == "" {
		return crossbar.ClipFormer{}, nil
	}
	a, b, ok := strings.Cut(s, ",")
	alpha, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	beta, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil {
		return crossbar.ClipFormer{}, fmt.Errorf(`eval: --clip %q: want "off" or "ALPHA,BETA"`, s)
	}
	return crossbar.ClipFormer{On: true, Alpha: alpha, Beta: beta}, nil
}

// profile is the built-in profile or --profile, with the flag overrides.
func (c *evalConfig) profile() (crossbar.Profile, error) {
	p := crossbar.Default()
	if c.profileFile != "" {
		var err error
		if p, err = config.LoadProfile(c.profileFile); err != nil {
			return p, err
		}
	}
	num := func(flagName, s string, dst *float64) error {
		if s == "" {
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("eval: --%s %q is not a number", flagName, s)
		}
		*dst = v
		return nil
	}
	if c.sigmaW != "" {
		var v float64
		if err := num("sigma-w", c.sigmaW, &v); err != nil {
			return p, err
		}
		p.SigmaW = crossbar.Some(v)
	}
	if err := num("sigma-r", c.sigmaR, &p.SigmaR); err != nil {
		return p, err
	}
	if c.adcBits != "" {
		v, err := strconv.Atoi(c.adcBits)
		if err != nil {
			return p, fmt.Errorf("eval: --adc-bits %q is not an integer", c.adcBits)
		}
		p.ADCBits = v
	}
	if c.granularity != "" {
		p.Granularity = crossbar.Granularity(c.granularity) // an unset sigma_w follows it
	}
	if c.kvScale != "" {
		p.KVScale = crossbar.ScaleMode(c.kvScale)
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// locateBundled finds a relative path as given, else beside the executable
// (and one level up), so the bundled models work from any directory.
func locateBundled(path string) string {
	if _, err := os.Stat(path); err == nil || filepath.IsAbs(path) {
		return path
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if p := filepath.Join(d, path); fileExists(p) {
				return p
			}
		}
	}
	return path
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// evalReport is the JSON form of an evaluation.
type evalReport struct {
	Model      string           `json:"model"`
	Dataset    string           `json:"dataset"`
	Start      int              `json:"start"`
	Images     int              `json:"images"`
	Ideal      bool             `json:"ideal"`
	Gamma      float64          `json:"gamma"`
	ClipFormer clipJSON         `json:"clipformer"`
	Path       string           `json:"path"`
	PathNote   string           `json:"path_note,omitempty"`
	Seed       uint64           `json:"seed"`
	Pruning    string           `json:"pruning,omitempty"`
	Profile    crossbar.Profile `json:"profile"`
	KVScale    string           `json:"kv_scale_source,omitempty"`
	// Calibration names the images the static K/V scale was calibrated on.
	Calibration *calibrationJSON `json:"calibration,omitempty"`
	Accuracy    accJSON          `json:"accuracy"`
	SNR         *snrJSON         `json:"snr_db,omitempty"`
	Hardware    *sim.Hardware    `json:"hardware,omitempty"`
	Elapsed     float64          `json:"elapsed_seconds"`
	ImagesPerS  float64          `json:"images_per_second"`
}

type calibrationJSON struct {
	Set    string `json:"set"`    // the calibration set's name, e.g. "imagenet-train"
	Images int    `json:"images"` // its first images used
}

type clipJSON struct {
	On    bool    `json:"on"`
	Alpha float64 `json:"alpha,omitempty"`
	Beta  float64 `json:"beta,omitempty"`
}

type accJSON struct {
	Mean     float64   `json:"mean"`
	Std      float64   `json:"std"`
	CI95     float64   `json:"ci95_half_width"`
	PerTrial []float64 `json:"per_trial"`
}

type snrJSON struct {
	Blocks []float64 `json:"blocks"`
	Mean   float64   `json:"mean"`
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseEvalFlags(args, stderr)
	if err != nil {
		return err
	}
	modelPath := locateBundled(c.model)
	m, err := vit.Load(modelPath, vit.LoadOptions{Heads: c.heads})
	if err != nil {
		return err
	}
	// The file's bytes and its decoded tensors are garbage now; return them
	// before the crossbar mapping allocates, so they do not add to the peak.
	runtime.GC()
	debug.FreeOSMemory()
	data, err := c.openData(modelPath, m, stderr)
	if err != nil {
		return err
	}
	s := c.setting
	path, note, err := s.Resolve()
	if err != nil {
		return err
	}
	var kv *sim.KVScales
	if !s.Ideal && s.Profile.KVScale == crossbar.Static {
		if kv, err = c.calibrate(ctx, modelPath, m, data, s.Profile.CalibrationImages, stderr); err != nil {
			return err
		}
	}
	if c.cpuProfile != "" {
		stop, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	total := data.Len() - c.start
	if c.limit > 0 {
		total = min(total, c.limit)
	}
	if total <= 0 {
		return fmt.Errorf("eval: no images: --start %d is beyond dataset %s (%d images)", c.start, data.Name(), data.Len())
	}
	if note != "" && !c.json {
		fmt.Fprintln(stderr, "note:", note)
	}

	var sink *predictionWriter
	if c.predictions != "" {
		if sink, err = createPredictions(c.predictions, m.Classes); err != nil {
			return err
		}
		defer sink.abort() // a failed evaluation leaves no partial file
	}
	bar := newProgress(stderr, total*c.trials)
	var (
		mapped *sim.Mapped
		merged = &sim.Result{}
		accs   []float64
	)
	begin := time.Now()
	for trial := 0; trial < c.trials; trial++ {
		s.Trial = trial
		// Without programming noise one mapping serves every trial.
		if !s.Ideal && !mapped.Serves(m, &s, path) {
			if mapped, err = sim.MapWeights(m, &s, path); err != nil {
				return err
			}
			if s.Profile.ProgrammingGamma == 0 {
				// One mapping serves every trial: the float weights it
				// copied are not read again.
				mapped.ReleaseWeights()
				runtime.GC()
				debug.FreeOSMemory()
			}
		}
		base := trial * total
		req := sim.Request{Model: m, Data: data, Start: c.start, Count: total, Setting: s, KV: kv,
			Mapped: mapped, Workers: c.workers, Batch: c.batch, Progress: func(done int) { bar.set(base + done) }}
		var write func([]sim.Prediction) error
		if sink != nil {
			write = func(p []sim.Prediction) error { return sink.write(trial, p) }
		}
		r, err := evaluateTrial(ctx, req, predictionChunk, write)
		if err != nil {
			bar.clear()
			return err
		}
		accs = append(accs, r.Accuracy())
		merged.Merge(r)
	}
	elapsed := time.Since(begin)
	bar.clear()

	rep := evalReport{Model: modelPath, Dataset: data.Name(), Start: c.start, Images: total, Ideal: s.Ideal,
		Gamma: s.Gamma, ClipFormer: clipJSON{s.Clip.On, s.Clip.Alpha, s.Clip.Beta}, Path: string(path), PathNote: note,
		Seed: s.Seed, Profile: s.Profile, Elapsed: elapsed.Seconds(),
		Pruning: func() string {
			if s.Prune.On() {
				return s.Prune.String()
			}
			return ""
		}(),
		ImagesPerS: float64(total*c.trials) / elapsed.Seconds()}
	iv := sim.Summarize(accs, total)
	rep.Accuracy = accJSON{Mean: iv.Mean, Std: iv.Std, CI95: iv.Half, PerTrial: accs}
	if !s.Ideal {
		if kv != nil {
			rep.KVScale = "static, calibrated on " + kv.Description()
			rep.Calibration = &calibrationJSON{Set: kv.Source, Images: kv.Images}
		} else {
			rep.KVScale = "dynamic"
		}
		snr := &snrJSON{Mean: report.Finite(merged.MeanSNR())}
		for b := range merged.Signal {
			snr.Blocks = append(snr.Blocks, report.Finite(merged.BlockSNR(b)))
		}
		rep.SNR = snr
		hw := sim.HardwareCountsPruned(m.Config, s.Profile, s.Clip, &s.Prune)
		rep.Hardware = &hw
	}
	if sink != nil {
		if err := sink.close(); err != nil {
			return err
		}
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(stdout, &rep, m)
	return nil
}

// openData opens --data, or the data set the checkpoint's metadata names, and
// refuses one that does not fit the model.
func (c *evalConfig) openData(modelPath string, m *vit.Model, stderr io.Writer) (dataset.Dataset, error) {
	if c.data == "" {
		if m.Dataset == "" {
			return nil, fmt.Errorf("eval: no --data given and %s names no data set in its metadata (key \"dataset\"): name one with --data", modelPath)
		}
		c.data = m.Dataset
	} else if m.Dataset != "" && m.Dataset != c.data && !c.json {
		fmt.Fprintf(stderr, "note: %s was trained on %s; evaluating it on %s\n", modelPath, m.Dataset, c.data)
	}
	data, err := dataset.Open(c.data, c.split)
	if err != nil {
		return nil, err
	}
	if err := checkModelFits(modelPath, m, data); err != nil {
		return nil, err
	}
	return data, nil
}

// checkModelFits refuses a data set whose images (channels, size) or class count
// differ from the model's: its accuracy would mean nothing.
func checkModelFits(modelPath string, m *vit.Model, data dataset.Dataset) error {
	if err := dataset.CheckFits(data, m.InChans, m.ImgSize, m.ImgSize); err != nil {
		return fmt.Errorf("eval: model %s does not fit: %w", modelPath, err)
	}
	if n := data.NumClasses(); n != m.Classes {
		return fmt.Errorf("eval: model %s has %d classes, data set %s has %d: %w", modelPath, m.Classes, data.Name(), n, dataset.ErrFit)
	}
	return nil
}

// calibrate computes (or finds in the cache) the static K/V scales on --calib, else
// on the set dataset.CalibrationSet chooses for the evaluated data.
func (c *evalConfig) calibrate(ctx context.Context, modelPath string, m *vit.Model, data dataset.Dataset, n int, stderr io.Writer) (*sim.KVScales, error) {
	var calib dataset.Dataset
	var err error
	if c.calib != "" {
		if calib, err = dataset.Open(c.calib, c.calibSplit); err != nil {
			return nil, err
		}
	} else {
		if calib, err = dataset.CalibrationSet(c.data, data, dataset.Open); err != nil {
			return nil, fmt.Errorf("eval: calibration set: %w", err)
		}
		if _, folder := data.(*dataset.Folder); folder && !c.json {
			fmt.Fprintf(stderr, "note: calibrating the static K/V scale on %d images of %s (name another set with --calib)\n", min(n, calib.Len()), calib.Name())
		}
	}
	return newCalibrationCache().scales(ctx, modelPath, m, calib, n, c.workers)
}

func printReport(w io.Writer, r *evalReport, m *vit.Model) {
	fmt.Fprintf(w, "model      %s (%d blocks, dim %d, %d heads, %d tokens)\n", r.Model, m.Depth, m.Dim, m.Heads, m.Tokens())
	fmt.Fprintf(w, "dataset    %s, images %d..%d (%d)\n", r.Dataset, r.Start, r.Start+r.Images-1, r.Images)
	if r.Ideal {
		fmt.Fprintf(w, "setting    ideal float32 model (no crossbar)\n")
	} else {
		clip := "off"
		if r.ClipFormer.On {
			clip = fmt.Sprintf("alpha %g, beta %g", r.ClipFormer.Alpha, r.ClipFormer.Beta)
		}
		p := r.Profile
		fmt.Fprintf(w, "setting    gamma %g, ClipFormer %s, sigma_w %g, sigma_r %g, %s granularity, %s path, seed %d\n",
			r.Gamma, clip, p.EffectiveSigmaW(), p.SigmaR, p.Granularity, r.Path, r.Seed)
		fmt.Fprintf(w, "K/V scale  %s\n", r.KVScale)
	}
	if r.Pruning != "" {
		fmt.Fprintf(w, "pruning    %s\n", r.Pruning)
	}
	a := r.Accuracy
	if len(a.PerTrial) > 1 {
		fmt.Fprintf(w, "accuracy   %.2f %% +- %.2f (95 %% CI, %d trials, std %.2f) on %d images\n", a.Mean, a.CI95, len(a.PerTrial), a.Std, r.Images)
		fmt.Fprintf(w, "per trial  %s\n", joinF(a.PerTrial, "%.2f"))
	} else {
		fmt.Fprintf(w, "accuracy   %.2f %% +- %.2f (95 %% CI over images) on %d images\n", a.Mean, a.CI95, r.Images)
	}
	if r.SNR != nil {
		fmt.Fprintf(w, "SNR (dB)   <SNR> %.2f; per block %s\n", r.SNR.Mean, joinF(r.SNR.Blocks, "%.1f"))
	}
	if r.Hardware != nil {
		h := r.Hardware
		fmt.Fprintf(w, "hardware   K/V slices %d (untransformed %d); crossbars %d static + %d K/V (untransformed %d)\n",
			h.KVSlices, h.KVSlicesBaseline, h.StaticCrossbars, h.KVCrossbars, h.KVCrossbarsBase)
		fmt.Fprintf(w, "           per image: %d cells written (untransformed %d), %d ADC conversions (untransformed %d)\n",
			h.CellsWritten, h.CellsWrittenBase, h.Conversions, h.ConversionsBase)
	}
	fmt.Fprintf(w, "speed      %.1f images/s (%.1f s, %s kernels)\n", r.ImagesPerS, r.Elapsed, linalg.Kernels())
}

func joinF(v []float64, format string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, " ")
}

// evaluateTrial runs one trial of req. With write set it evaluates chunk images at
// a time and hands each chunk's predictions to write as the chunk completes, in image
// order, so the logits never pile up in memory; each image's result depends only on
// its index, so the chunking changes no number.
func evaluateTrial(ctx context.Context, req sim.Request, chunk int, write func([]sim.Prediction) error) (*sim.Result, error) {
	if write == nil {
		return sim.Evaluate(ctx, req)
	}
	total, progress := req.Count, req.Progress
	merged := &sim.Result{}
	for first := 0; first < total; first += chunk {
		part := req
		part.Start, part.Count, part.Predictions = req.Start+first, min(chunk, total-first), true
		if progress != nil {
			part.Progress = func(done int) { progress(first + done) }
		}
		r, err := sim.Evaluate(ctx, part)
		if err != nil {
			return nil, err
		}
		if err := write(r.Predictions); err != nil {
			return nil, err
		}
		r.Predictions = nil
		merged.Merge(r)
	}
	return merged, nil
}

// predictionWriter streams the --predictions CSV: a header, then one row per trial
// and image, written as the evaluation produces them.
type predictionWriter struct {
	path   string
	f      *os.File
	w      *csv.Writer
	row    []string
	closed bool
}

// createPredictions creates the file and writes the header: trial, index, label,
// prediction and one logit_K column per class.
func createPredictions(path string, classes int) (*predictionWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("eval: predictions: %w", err)
	}
	p := &predictionWriter{path: path, f: f, w: csv.NewWriter(f)}
	head := []string{"trial", "index", "label", "prediction"}
	for k := 0; k < classes; k++ {
		head = append(head, fmt.Sprintf("logit_%d", k))
	}
	p.w.Write(head)
	return p, nil
}

// write appends one trial's rows for preds and flushes them to the file.
func (p *predictionWriter) write(trial int, preds []sim.Prediction) error {
	for _, pr := range preds {
		p.row = append(p.row[:0], strconv.Itoa(trial), strconv.Itoa(pr.Index), strconv.Itoa(pr.Label), strconv.Itoa(pr.Pred))
		for _, l := range pr.Logits {
			p.row = append(p.row, strconv.FormatFloat(float64(l), 'g', -1, 32))
		}
		p.w.Write(p.row)
	}
	p.w.Flush()
	if err := p.w.Error(); err != nil {
		return fmt.Errorf("eval: predictions %s: %w", p.path, err)
	}
	return nil
}

// close flushes and closes the file.
func (p *predictionWriter) close() error {
	p.closed = true
	p.w.Flush()
	err := p.w.Error()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("eval: predictions %s: %w", p.path, err)
	}
	return nil
}

// abort removes the file unless close ran.
func (p *predictionWriter) abort() {
	if !p.closed {
		p.f.Close()
		os.Remove(p.path)
	}
}

func runProfile(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("profile", "", "device profile YAML to read (default: the built-in profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p := crossbar.Default()
	if *file != "" {
		var err error
		if p, err = config.LoadProfile(*file); err != nil {
			return err
		}
	}
	fmt.Fprint(stdout, config.FormatProfile(p))
	return nil
}

// startCPUProfile profiles the process into path until the returned func runs.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("eval: --cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("eval: --cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "eval: --cpuprofile %s: %v\n", path, err)
		}
	}, nil
}
