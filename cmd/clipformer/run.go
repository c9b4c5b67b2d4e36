package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/clipformer/clipformer/internal/filehash"
	"github.com/clipformer/clipformer/internal/local"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim/cost"
	"github.com/clipformer/clipformer/sim/vit"
	"github.com/clipformer/clipformer/worker"
)

// sweepBar draws a sweep's progress: a bar on a terminal, a line every ten
// seconds elsewhere (logs).
type sweepBar struct {
	w        io.Writer
	tty      bool
	start    time.Time
	last     time.Time
	lastDone int64
	lastErr  string
	// shown counts an adaptive sweep's eliminations already printed.
	shown map[string]bool
}

func newSweepBar(w io.Writer) *sweepBar {
	b := &sweepBar{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

func (b *sweepBar) update(sw *cfpb.Sweep) {
	p := sw.Progress
	now := time.Now()
	final := p.Pending+p.Leased == 0
	if !b.tty && now.Sub(b.last) < 10*time.Second && !final {
		return
	}
	if b.tty && now.Sub(b.last) < 100*time.Millisecond && !final {
		return
	}
	b.last = now
	rate := sw.ShardsPerSecond
	eta := "--:--"
	if sw.EtaSeconds >= 0 {
		eta = fmtDuration(time.Duration(sw.EtaSeconds * float64(time.Second)))
	}
	const width = 30
	total := max(p.Total, 1)
	fill := int(width * p.Done / total)
	copies := ""
	if p.Copies > 0 {
		copies = fmt.Sprintf(", %d copied", p.Copied)
	}
	line := fmt.Sprintf("[%s%s] %3d%% %d/%d shards (%d leased, %d failed%s)  %.1f shards/s  %d images  ETA %s",
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), 100*p.Done/total, p.Done, p.Total, p.Leased, p.Failed, copies,
		rate, p.ImagesDone, eta)
	line += adaptiveLine(sw)
	if b.tty {
		fmt.Fprintf(b.w, "\r%s ", line)
	} else {
		fmt.Fprintln(b.w, line)
	}
	// A new shard error is shown once, on its own line.
	if n := len(sw.Errors); n > 0 && sw.Errors[n-1] != b.lastErr {
		b.lastErr = sw.Errors[n-1]
		if b.tty {
			fmt.Fprintln(b.w)
		}
		fmt.Fprintf(b.w, "error: %s\n", b.lastErr)
	}
	b.showEliminations(sw.Adaptive)
}

// adaptiveLine is a race's or a precision target's part of the progress
// line: the round, the survivors and the drops, the groups decided and the
// shards no longer needed.
func adaptiveLine(sw *cfpb.Sweep) string {
	a := sw.Adaptive
	switch {
	case a == nil:
		return ""
	case sw.Spec.GetRace() == nil:
		return fmt.Sprintf("  precision target: %d/%d points decided, %d shards not needed", a.Decided, a.Groups, a.NotNeeded)
	}
	return fmt.Sprintf("  round %d: %d survivors, %d dropped, %d/%d groups decided, %d shards not needed",
		a.Round, a.Survivors, a.Dropped, a.Decided, a.Groups, a.NotNeeded)
}

// showEliminations prints each new elimination once, on its own line.
func (b *sweepBar) showEliminations(a *cfpb.AdaptiveProgress) {
	for _, e := range a.GetEliminations() {
		if b.shown[e] {
			continue
		}
		if b.shown == nil {
			b.shown = map[string]bool{}
		}
		b.shown[e] = true
		if b.tty {
			fmt.Fprintln(b.w)
		}
		fmt.Fprintf(b.w, "race: %s\n", e)
	}
}

func (b *sweepBar) finish() {
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

// loadSpecFile parses a spec and resolves its model path the way eval
// does (as given, else beside the executable), so that examples run from
// anywhere.
func loadSpecFile(path string) (*cfpb.SweepSpec, error) {
	spec, err := sweep.Load(path)
	if err != nil {
		return nil, err
	}
	spec.Model.Path = locateBundled(spec.Model.Path)
	if spec.Dataset.Kind == "idx" || spec.Dataset.Kind == "folder" {
		spec.Dataset.Path = locateBundled(spec.Dataset.Path)
	}
	return spec, nil
}

// fillChecksum computes the model's sha256 when the spec leaves it out and
// the file is readable here; with a checksum given, it checks it.
func fillChecksum(spec *cfpb.SweepSpec) error {
	sum, err := filehash.SHA256(spec.Model.Path)
	if err != nil {
		if spec.Model.Sha256 != "" {
			return nil // the workers have the file; we need not
		}
		return fmt.Errorf("model.path %s: %v (give model.sha256 if only the workers can read it)", spec.Model.Path, err)
	}
	if spec.Model.Sha256 != "" && spec.Model.Sha256 != sum {
		return fmt.Errorf("model.sha256: %s has sha256 %s, the spec names %s", spec.Model.Path, sum, spec.Model.Sha256)
	}
	spec.Model.Sha256 = sum
	return nil
}

// prepareRunSpec loads a spec for run, checks its inputs through exec
// (which keeps what it loaded), fills in the model's checksum and applies
// --limit and --trials. Every input is checked before the first shard and
// before --fresh clears anything, so that a typo costs neither time nor a
// recorded run.
func prepareRunSpec(specPath string, exec *worker.Executor, limit, trials int) (*cfpb.SweepSpec, error) {
	spec, err := loadSpecFile(specPath)
	if err != nil {
		return nil, err
	}
	if err := local.CheckInputs(spec, exec); err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	if err := fillChecksum(spec); err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	if limit > 0 {
		if spec.Dataset.Limit == 0 || int(spec.Dataset.Limit) > limit {
			spec.Dataset.Limit = int32(limit)
		}
		spec.ImagesPerShard = min(spec.ImagesPerShard, int32(max(limit/4, 1)))
	}
	if trials > 0 {
		spec.Trials = int32(trials)
	}
	if err := sweep.Validate(spec, sweep.Limits{}); err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	return spec, nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: clipformer run [flags] SPEC.yaml\n\nRuns a sweep on this machine: an in-process coordinator and local workers.")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "output folder for results.csv, results.jsonl and plots (default: out/NAME, NAME from the spec file)")
	workers := fs.Int("workers", runtime.NumCPU(), "local workers, one shard each at a time")
	threads := fs.Int("threads", 1, "goroutines per worker")
	fresh := fs.Bool("fresh", false, "start over instead of resuming an interrupted run in the output folder")
	verbose := fs.Bool("v", false, "log the coordinator's and workers' events to stderr")
	limit := fs.Int("limit", 0, "evaluate only the first N images of the spec's dataset (a quick version of a study)")
	trials := fs.Int("trials", 0, "override the spec's Monte-Carlo trials")
	uiAddr := fs.String("ui", "", uiFlagUsage+"; with it, run keeps serving the finished sweep until interrupted")
	everyTrial := fs.Bool("every-trial", false, "compute every trial, even of the points whose trials all give the same bits "+
		"(no write, read or programming noise), which are otherwise computed once and copied; applies to a new sweep, not a resumed one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("run: want exactly one spec file")
	}
	specPath := fs.Arg(0)
	exec := &worker.Executor{AllowUnchecked: true, Threads: max(*threads, 1)}
	spec, err := prepareRunSpec(specPath, exec, *limit, *trials)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join("out", strings.TrimSuffix(filepath.Base(specPath), filepath.Ext(specPath)))
	}
	stateDir := filepath.Join(*out, "state")
	if *fresh {
		os.RemoveAll(stateDir)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	l, err := sweep.NewLayout(spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sweep %q: %d points x %d trials x %d images = %d shards of up to %d images; %d workers\n",
		spec.Name, len(l.Points), l.Trials, l.Images, l.Shards(), l.Chunk, *workers)
	if shards, images := l.Copies(); shards > 0 && !*everyTrial {
		fmt.Fprintf(stderr, "%d shards (%d images) are later trials of points whose trials all give the same bits: copied from trial 0, not computed (--every-trial computes them)\n",
			shards, images)
	}
	bar := newSweepBar(stderr)
	begin := time.Now()
	resumedImages := int64(-1) // images already done when this run started
	progress := func(s *cfpb.Sweep) {
		if resumedImages < 0 {
			resumedImages = s.Progress.ImagesDone
		}
		bar.update(s)
	}
	var shards []report.ShardRow
	keep := func(k int, s *cfpb.Summary, copy bool) { shards = append(shards, report.ShardOf(l, k, s, copy)) }
	runner, err := local.Start(ctx, spec, local.Options{StateDir: stateDir, Workers: *workers, ThreadsPerWorker: *threads,
		Exec: exec, Progress: progress, Logger: logger, Shard: keep, ComputeEveryTrial: *everyTrial})
	if err != nil {
		return err
	}
	defer runner.Close()
	if *uiAddr != "" {
		linger, err := runDashboard(ctx, *uiAddr, runner, logger, stderr)
		if err != nil {
			return err
		}
		defer linger()
	}
	sw, results, err := runner.Wait(ctx)
	bar.finish()
	if err != nil && !errors.Is(err, local.ErrShardsFailed) {
		if ctx.Err() != nil {
			return fmt.Errorf("run: interrupted; run the same command again to resume from %s", stateDir)
		}
		return err
	}
	failed := err
	files, err := reportRun(stdout, *out, sw, spec, results, shards)
	if err != nil {
		return err
	}
	el := time.Since(begin)
	evaluated := sw.Progress.ImagesDone - max(resumedImages, 0)
	fmt.Fprintf(stderr, "sweep %s done in %s: %d images evaluated, %.1f images/s", sw.Id, fmtDuration(el),
		evaluated, float64(evaluated)/el.Seconds())
	if resumedImages > 0 {
		fmt.Fprintf(stderr, " (resumed: %d images were done before)", resumedImages)
	}
	if p := sw.Progress; p.Copied > 0 {
		fmt.Fprintf(stderr, "; %d shards (%d images) copied from trial 0", p.Copied, p.ImagesCopied)
	}
	if a := sw.Adaptive; a != nil {
		fmt.Fprintf(stderr, "; %d of %d groups decided, %d of %d shards not needed", a.Decided, a.Groups, a.NotNeeded, sw.Shards)
	}
	fmt.Fprintln(stderr)
	fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	return failed
}

// reportRun prints the results table (and the best setting per gamma)
// and writes the output files; it returns their names.
func reportRun(stdout io.Writer, dir string, sw *cfpb.Sweep, spec *cfpb.SweepSpec, results []*cfpb.PointResult, shards []report.ShardRow) ([]string, error) {
	rows := report.Rows(sw.Id, spec, results)
	addHardware(rows, spec, results)
	if err := report.WriteTable(stdout, rows); err != nil {
		return nil, err
	}
	writeCopiesNote(stdout, sw)
	if best := report.BestPerGamma(rows); len(rows) > len(best) {
		fmt.Fprintln(stdout)
		if err := report.WriteBest(stdout, best); err != nil {
			return nil, err
		}
	}
	return writeOutputs(dir, sw, spec, rows, shards)
}

// writeOutputs writes results.csv, results.jsonl, shards.csv (each done
// shard's outcome, for `results --compare --from`) and the plots into dir.
func writeOutputs(dir string, sw *cfpb.Sweep, spec *cfpb.SweepSpec, rows []report.Row, shards []report.ShardRow) ([]string, error) {
	var files []string
	for _, f := range []struct{ name, format string }{{"results.csv", "csv"}, {"results.jsonl", "jsonl"}, {"shards.csv", "shards"}} {
		p := filepath.Join(dir, f.name)
		fh, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		if f.format == "shards" {
			err = report.WriteShards(fh, shards)
		} else {
			err = report.WriteFormat(fh, f.format, rows)
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		files = append(files, p)
	}
	plots, err := report.PlotSweep(rows, report.FigureContext(spec, rows), filepath.Join(dir, "plot"), []string{"png", "svg"})
	if err != nil {
		return files, nil // nothing complete to plot: not an error of the run
	}
	return append(files, plots...), nil
}

// addHardware fills the rows' hardware columns when the model's file can be
// read here (it always can for `run`; a cluster client may lack it).
func addHardware(rows []report.Row, spec *cfpb.SweepSpec, results []*cfpb.PointResult) {
	m, err := vit.Load(locateBundled(spec.Model.GetPath()), vit.LoadOptions{})
	if err != nil {
		return
	}
	_ = report.AddHardware(rows, spec, results, m.Config, cost.Default())
}

// runDashboard serves run's dashboard; linger, deferred, keeps it serving
// the finished sweep until ctx ends, then stops it.
func runDashboard(ctx context.Context, addr string, runner *local.Running, logger *slog.Logger, stderr io.Writer) (linger func(), err error) {
	uctx, stopUI := context.WithCancel(ctx)
	uiDone, err := startDashboard(uctx, addr, runner.Node(), nil, "clipformer run", logger, stderr)
	if err != nil {
		stopUI()
		return nil, fmt.Errorf("run: --ui: %w", err)
	}
	return func() {
		if ctx.Err() == nil {
			fmt.Fprintln(stderr, "the dashboard keeps serving the sweep; interrupt (Ctrl-C) to exit")
			<-ctx.Done()
		}
		stopUI()
		<-uiDone
	}, nil
}

// writeCopiesNote says, under a results table, how many of its done shards
// are copies of trial 0 rather than computed.
func writeCopiesNote(w io.Writer, sw *cfpb.Sweep) {
	if p := sw.GetProgress(); p.GetCopied() > 0 {
		fmt.Fprintf(w, "%d of the %d done shards are copies of trial 0: points whose trials all give the same bits "+
			"(no write, read or programming noise) were computed once and recorded for every trial\n", p.Copied, p.Done)
	}
}
