package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clipformer/clipformer/internal/figure"
)

// maxLines is the most ClipFormer settings PlotSweep draws as lines; a grid
// with more gets the study figures (the best per gamma, cuts through it).
const maxLines = 8

// PlotSweep writes a sweep's figures: Plot's, or PlotStudy's when the grid
// has more than maxLines ClipFormer settings, so that `run`, `plot` and
// `report` draw the same figures of the same results. c is what they were
// measured on (FigureContext).
func PlotSweep(rows []Row, c figure.Context, prefix string, exts []string) ([]string, error) {
	settings := map[string]bool{}
	for _, r := range rows {
		settings[r.Clip] = true
	}
	if len(settings) > maxLines {
		return PlotStudy(rows, c, prefix, exts)
	}
	return Plot(rows, c, prefix, exts)
}

// Plot writes accuracy and <SNR> against gamma (LineAxis), one line per
// ClipFormer setting with 95 % intervals, as PREFIX-accuracy.EXT and
// PREFIX-snr.EXT for each extension (png, svg). It returns the files.
func Plot(rows []Row, c figure.Context, prefix string, exts []string) ([]string, error) {
	var files []string
	for _, name := range LineFigures {
		fs, err := writeFigure(prefix+"-"+name, exts, func(w io.Writer, f figure.Format) error {
			return DrawFigure(w, f, rows, c, FigureRequest{Name: name})
		})
		if errors.Is(err, figure.ErrNoData) {
			return nil, fmt.Errorf("report: no complete trials to plot yet")
		}
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

// writeFigure writes one figure as BASE.EXT for each extension; nothing
// when draw fails.
func writeFigure(base string, exts []string, draw func(io.Writer, figure.Format) error) ([]string, error) {
	var files []string
	for _, ext := range exts {
		f, err := figure.ParseFormat(ext)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		name := base + "." + f.Type
		var b bytes.Buffer // drawn first, so a figure with nothing to draw leaves no file
		if err := draw(&b, f); err != nil {
			return nil, fmt.Errorf("report: plot %s: %w", filepath.Base(name), err)
		}
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		files = append(files, name)
	}
	return files, nil
}
