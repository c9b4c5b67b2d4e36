package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/clipformer/clipformer/internal/paired"
)

// RaceRow is a race among the settings of one group, replayed offline on a
// full grid's per-shard outcomes: what an adaptive sweep's race would
// decide on the same results, next to the full grid's best.
type RaceRow struct {
	Group    Row // the group's first row (its gamma, sigma_r, sigma_w, device)
	Settings []Row
	Result   paired.RaceResult
	FullBest Row   // the most accurate setting of the full grid
	Full     int64 // the full grid's evaluations of the group
}

// Race replays a race per group (the points that share gamma, sigma_r,
// sigma_w and the device axes) over the block-major order of the blocks
// and trials the outcomes hold.
func Race(rows []Row, outcomes map[int]paired.Outcomes, cfg paired.RaceConfig) ([]RaceRow, error) {
	var keys []string
	groups := map[string][]Row{}
	for _, r := range rows {
		k := fmt.Sprint(r.Gamma, r.SigmaR, r.SigmaW, r.Device)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []RaceRow
	for _, k := range keys {
		rs := groups[k]
		rr := RaceRow{Group: rs[0], Settings: rs, FullBest: rs[0]}
		var settings []paired.Outcomes
		blocks, trials := 0, 0
		for _, r := range rs {
			o := outcomes[r.Point]
			settings = append(settings, o)
			if r.Accuracy > rr.FullBest.Accuracy {
				rr.FullBest = r
			}
			for u, c := range o {
				blocks, trials = max(blocks, u.Block+1), max(trials, u.Trial+1)
				rr.Full += c.Images
			}
		}
		if len(rs) < 2 {
			continue
		}
		res, err := paired.Race(cfg, paired.BlockMajor(blocks, trials), settings)
		if err != nil {
			return nil, fmt.Errorf("gamma %g: %w", rs[0].Gamma, err)
		}
		if res.Stop == paired.Running {
			return nil, fmt.Errorf("gamma %g: the race needs units the results lack (%d settings, round %d): an incomplete sweep",
				rs[0].Gamma, len(res.Survivors), res.Rounds+1)
		}
		rr.Result = res
		out = append(out, rr)
	}
	return out, nil
}

// WriteRace prints one line per group: the race's rounds and why it
// stopped, its winner and the full grid's best with their accuracies,
// the evaluations it used and its saving; with detail, every setting's
// standing under it.
func WriteRace(w io.Writer, races []RaceRow, detail bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "gamma\tsigma_r\tsettings\trounds\tstop\twinner\tfull-grid best\tevaluations\tfull grid\tsaving\t")
	for _, r := range races {
		win := r.Settings[r.Result.Best]
		fmt.Fprintf(tw, "%g\t%g\t%d\t%d\t%s\t%s (%.2f)\t%s (%.2f +- %.2f)\t%d\t%d\t%.1f%%\t\n", r.Group.Gamma, r.Group.SigmaR,
			len(r.Settings), r.Result.Rounds, r.Result.Stop, win.Clip, win.Accuracy, r.FullBest.Clip, r.FullBest.Accuracy,
			r.FullBest.CI95, r.Result.Evaluations, r.Full, 100*(1-float64(r.Result.Evaluations)/float64(r.Full)))
		if !detail {
			continue
		}
		for i, s := range r.Result.Settings {
			fmt.Fprintf(tw, "\t\t%s\t%s\t%s\t%s\t%s\t%d\t\t\t\n", r.Settings[i].Clip, standing(s), fmt.Sprintf("round %d", s.Round),
				fmt.Sprintf("gain of the best %+.2f +- %.2f", s.Gain.Estimate, s.Gain.Half), fmt.Sprintf("p %s at %.2g", fmtP(s.P), s.Alpha), s.Images)
		}
	}
	return tw.Flush()
}

func standing(s paired.Standing) string {
	return strings.ReplaceAll(s.Status.String(), " ", "-")
}
