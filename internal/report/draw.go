package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clipformer/clipformer/internal/figure"
)

// The figures DrawFigure draws, by name: the first two of any sweep, the
// rest of a grid of (alpha, beta) settings.
var (
	LineFigures  = []string{"accuracy", "snr"}
	StudyFigures = []string{"best", "beta-accuracy", "beta-snr", "blocksnr", "gain"}
)

// FigureRequest picks one figure of a sweep's rows.
type FigureRequest struct {
	// Name is one of LineFigures or StudyFigures.
	Name string
	// Gamma is the gamma of beta-accuracy, beta-snr, blocksnr and gain when
	// HasGamma; otherwise the largest gamma with a ClipFormer point done.
	Gamma    float64
	HasGamma bool
	// Others is the combination of the other axes (Best.Others) of a study
	// figure; "" for the first there is.
	Others string
}

// DrawFigure draws one figure of rows to w in format f; c is what the rows
// were measured on (FigureContext). A study figure names its own group's
// sigma_r and granularity, and its gamma. With nothing done yet to draw it
// returns an error wrapping figure.ErrNoData.
func DrawFigure(w io.Writer, f figure.Format, rows []Row, c figure.Context, req FigureRequest) error {
	switch req.Name {
	case "accuracy", "snr":
		q := figure.Accuracy
		if req.Name == "snr" {
			q = figure.MeanSNR
		}
		x, series := LineSeries(rows, q)
		return figure.Lines(w, f, c, x, q, series)
	}
	if !slices.Contains(StudyFigures, req.Name) {
		return fmt.Errorf("report: figure %q: want one of %s", req.Name, strings.Join(append(LineFigures, StudyFigures...), ", "))
	}
	bs, c := studyGroup(rows, c, req.Others)
	if len(bs) == 0 {
		return fmt.Errorf("report: figure %s of %q: %w", req.Name, req.Others, figure.ErrNoData)
	}
	if req.Name == "best" {
		return figure.Best(w, f, c, BestPoints(bs))
	}
	at, err := bestAt(bs, req)
	if err != nil {
		return err
	}
	if at.Clip == nil && strings.HasPrefix(req.Name, "beta-") {
		return fmt.Errorf("report: figure %s at gamma %g: no ClipFormer point done: %w", req.Name, at.Gamma, figure.ErrNoData)
	}
	c = c.At(at.Gamma)
	switch req.Name {
	case "beta-accuracy":
		return figure.Lines(w, f, c, figure.Beta, figure.Accuracy, BetaSeries(rows, at, figure.Accuracy))
	case "beta-snr":
		return figure.Lines(w, f, c, figure.Beta, figure.MeanSNR, BetaSeries(rows, at, figure.MeanSNR))
	case "blocksnr":
		return figure.Lines(w, f, c, figure.Block, figure.SNR, BlockSeries(at))
	}
	g, ok := GainGrid(rows, at)
	if !ok {
		return fmt.Errorf("report: gain map at gamma %g: %w", at.Gamma, figure.ErrNoData)
	}
	return figure.GainMap(w, f, c, g)
}

// studyGroup is BestPerGamma of the rows whose other axes are others (the
// first group when others is ""), and c narrowed to those rows.
func studyGroup(rows []Row, c figure.Context, others string) ([]Best, figure.Context) {
	best := BestPerGamma(rows)
	if others == "" && len(best) > 0 {
		others = best[0].Others
	}
	var bs []Best
	for _, b := range best {
		if b.Others == others {
			bs = append(bs, b)
		}
	}
	keys := othersKeys(rows)
	var group []Row
	for i, r := range rows {
		if keys[i] == others {
			group = append(group, r)
		}
	}
	return bs, withRows(c, group)
}

// bestAt is the Best at req's gamma, or at the largest gamma with a
// transformed point done (BestPerGamma sorts by gamma within a group; a run
// still going may lack the very last).
func bestAt(bs []Best, req FigureRequest) (Best, error) {
	if req.HasGamma {
		for _, b := range bs {
			if b.Gamma == req.Gamma {
				return b, nil
			}
		}
		return Best{}, fmt.Errorf("report: figure %s: no results at gamma %g", req.Name, req.Gamma)
	}
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].Clip != nil {
			return bs[i], nil
		}
	}
	return bs[len(bs)-1], nil
}
