package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
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
	var order []string
	for _, b := range best {
		if !slices.Contains(order, b.Others) {
			order = append(order, b.Others)
		}
	}
	var files []string
	for _, others := range order {
		p := prefix
		if len(order) > 1 && others != "" {
			p += "-" + strings.NewReplacer("=", "", " ", "-").Replace(others)
		}
		for _, name := range StudyFigures {
			fs, err := writeFigure(p+"-"+name, exts, func(w io.Writer, f figure.Format) error {
				return DrawFigure(w, f, rows, c, FigureRequest{Name: name, Others: others})
			})
			if errors.Is(err, figure.ErrNoData) {
				continue // nothing of this kind done yet
			}
			if err != nil {
				return nil, err
			}
			files = append(files, fs...)
		}
	}
	return files, nil
}
