package report

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clipformer/clipformer/internal/figure"
)

// PlotStudy writes the figures of a study grid, where one line per
// ClipFormer setting (Plot) would draw dozens of lines. For each combination
// of the other axes (sigma_r, sigma_w, device; a "-sigma_r0.05"-style suffix
// when there are several) it writes, for each extension:
//
//   - PREFIX-best: accuracy against gamma, untransformed and the best
//     (alpha, beta) per gamma, with 95 % intervals;
//   - PREFIX-beta-accuracy and PREFIX-beta-snr: accuracy and <SNR> against
//     beta at the largest gamma with a ClipFormer point done, one line per
//     alpha, the untransformed level dashed (how the gain and the SNR follow
//     the rigour of the clip);
//   - PREFIX-blocksnr: SNR per block at that gamma, untransformed and the
//     best setting there;
//   - PREFIX-gain: the gain over untransformed of every (alpha, beta) at
//     that gamma, as a heat map.
//
// c is what the rows were measured on (FigureContext); each group's figures
// name the group's own sigma_r and granularity. It returns the files written.
func PlotStudy(rows []Row, c figure.Context, prefix string, exts []string) ([]string, error) {
	best := BestPerGamma(rows)
	if len(best) == 0 {
		return nil, fmt.Errorf("report: no complete trials to plot yet")
	}
	groups := map[string][]Best{}
	var order []string
	for _, b := range best {
		if _, ok := groups[b.Others]; !ok {
			order = append(order, b.Others)
		}
		groups[b.Others] = append(groups[b.Others], b)
	}
	keys := othersKeys(rows)
	var files []string
	for _, others := range order {
		p := prefix
		if len(order) > 1 && others != "" {
			p += "-" + strings.NewReplacer("=", "", " ", "-").Replace(others)
		}
		var groupRows []Row
		for i, r := range rows {
			if keys[i] == others {
				groupRows = append(groupRows, r)
			}
		}
		fs, err := plotGroup(rows, groups[others], withRows(c, groupRows), p, exts)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

// plotGroup writes PlotStudy's figures of one combination of the other
// axes: bs its best points, c its context.
func plotGroup(rows []Row, bs []Best, c figure.Context, prefix string, exts []string) ([]string, error) {
	// The largest gamma with a transformed point done (BestPerGamma sorts
	// by gamma within a group); a run still going may lack the very last.
	top := bs[len(bs)-1]
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].Clip != nil {
			top = bs[i]
			break
		}
	}
	at := c.At(top.Gamma)
	figs := []struct {
		name string
		draw func(io.Writer, figure.Format) error
	}{
		{"best", func(w io.Writer, f figure.Format) error { return figure.Best(w, f, c, BestPoints(bs)) }},
		{"beta-accuracy", func(w io.Writer, f figure.Format) error {
			return figure.Lines(w, f, at, figure.Beta, figure.Accuracy, BetaSeries(rows, top, figure.Accuracy))
		}},
		{"beta-snr", func(w io.Writer, f figure.Format) error {
			return figure.Lines(w, f, at, figure.Beta, figure.MeanSNR, BetaSeries(rows, top, figure.MeanSNR))
		}},
		{"blocksnr", func(w io.Writer, f figure.Format) error {
			return figure.Lines(w, f, at, figure.Block, figure.SNR, BlockSeries(top))
		}},
		{"gain", func(w io.Writer, f figure.Format) error {
			g, ok := GainGrid(rows, top)
			if !ok {
				return figure.ErrNoData
			}
			return figure.GainMap(w, f, at, g)
		}},
	}
	var files []string
	for _, fig := range figs {
		fs, err := writeFigure(prefix+"-"+fig.name, exts, fig.draw)
		if errors.Is(err, figure.ErrNoData) {
			continue // nothing of this kind done yet
		}
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}
