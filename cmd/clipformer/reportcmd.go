package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// runReport turns a folder of result CSVs (what `clipformer run` writes as
// results.csv, saved under the sweep's name) into the reproduction tables in
// Markdown and, optionally, the accuracy and SNR figures of each.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write the Markdown here instead of standard output")
	figures := fs.String("figures", "", "also write the figures (PNG, SVG) into this folder: NAME-accuracy and NAME-snr, or for a grid of more than 8 ClipFormer settings NAME-best, NAME-beta-accuracy, NAME-beta-snr, NAME-blocksnr and NAME-gain")
	specs := fs.String("specs", "", "read NAME.yaml in this folder, the spec of NAME.csv, so that the figures' titles name its model and granularity")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: clipformer report [flags] RESULTS_DIR\n\nReads RESULTS_DIR/*.csv: table2-NAME[-vat].csv (Table II), table3-*.csv (Table III),\nstudy-*.csv (best ClipFormer setting per gamma) and any other result CSV.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("report: want one RESULTS_DIR")
	}
	dir := fs.Arg(0)
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("report: %s holds no .csv files", dir)
	}
	sort.Strings(files)
	sets := map[string][]report.Row{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		rows, err := report.ReadCSV(fh, f)
		fh.Close()
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".csv")
		sets[name] = rows
		if *figures != "" {
			if err := os.MkdirAll(*figures, 0o755); err != nil {
				return err
			}
			spec, err := specOf(*specs, name)
			if err != nil {
				return err
			}
			if _, err := report.PlotSweep(rows, report.FigureContext(spec, rows), filepath.Join(*figures, name), []string{"png", "svg"}); err != nil {
				return fmt.Errorf("report: figures of %s: %w", f, err)
			}
		}
	}
	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, sets); err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}

// specOf reads DIR/NAME.yaml, the spec whose results NAME.csv holds; nil
// when dir is "" or holds no such file (the figures then name no model).
func specOf(dir, name string) (*cfpb.SweepSpec, error) {
	if dir == "" {
		return nil, nil
	}
	path := filepath.Join(dir, name+".yaml")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	spec, err := sweep.Load(path)
	if err != nil {
		return nil, fmt.Errorf("report: spec of %s.csv: %w", name, err)
	}
	return spec, nil
}
