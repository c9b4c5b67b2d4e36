package report

import (
	"fmt"
	"io"
	"slices"
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
	// Gap is the full grid's paired gain of its best over the race's
	// winner, over all its units, at the race's confidence and with the
	// race's clusters (given or over the draws): the winner is tied with
	// the best when the interval reaches 0.
	Gap paired.Interval
}

// Tied reports whether the race's winner is the full grid's best or
// statistically tied with it within the full grid's paired interval.
func (r RaceRow) Tied() bool {
	return r.Gap.Estimate-r.Gap.Half <= 0
}

// Race replays a race per group (the points that share gamma, sigma_r,
// sigma_w and the device axes) over the block-major order of the blocks
// and trials the outcomes hold.
func Race(rows []Row, outcomes map[int]paired.Outcomes, cfg paired.RaceConfig) ([]RaceRow, error) {
	return RaceWithin(rows, outcomes, cfg, 0)
}

// RaceWithin is Race with a budget per group of share (in (0, 1]) of the
// full grid's image evaluations of the group; 0 keeps cfg's budget.
func RaceWithin(rows []Row, outcomes map[int]paired.Outcomes, cfg paired.RaceConfig, share float64) ([]RaceRow, error) {
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
		gcfg := cfg
		if share > 0 {
			gcfg.MaxEvaluations = int64(share * float64(rr.Full))
			for _, o := range settings {
				for _, c := range o {
					gcfg.UnitImages = max(gcfg.UnitImages, c.Images)
				}
			}
		}
		res, err := paired.Race(gcfg, paired.BlockMajor(blocks, trials), settings)
		if err != nil {
			return nil, fmt.Errorf("gamma %g: %w", rs[0].Gamma, err)
		}
		if res.Stop == paired.Running {
			return nil, fmt.Errorf("gamma %g: the race needs units the results lack (%d settings, round %d): an incomplete sweep",
				rs[0].Gamma, len(res.Survivors), res.Rounds+1)
		}
		rr.Result = res
		full := slices.IndexFunc(rs, func(r Row) bool { return r.Point == rr.FullBest.Point })
		gain := paired.Gain
		if cfg.Draws == paired.GivenDraws {
			gain = paired.GainGivenDraws
		}
		if rr.Gap, err = gain(settings[full], settings[res.Best], nil, cfg.Confidence); err != nil {
			return nil, fmt.Errorf("gamma %g: the full grid's gap to the winner: %w", rs[0].Gamma, err)
		}
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
	fmt.Fprintln(tw, "gamma\tsigma_r\tsettings\trounds\tstop\twinner\tfull-grid best\tbest - winner (full grid)\tevaluations\tfull grid\tsaving\t")
	for _, r := range races {
		win := r.Settings[r.Result.Best]
		verdict := "tied"
		switch {
		case win.Point == r.FullBest.Point:
			verdict = "the best"
		case !r.Tied():
			verdict = "worse"
		}
		fmt.Fprintf(tw, "%g\t%g\t%d\t%d\t%s\t%s (%.2f)\t%s (%.2f +- %.2f)\t%+.2f +- %.2f: %s\t%d\t%d\t%.1f%%\t\n", r.Group.Gamma, r.Group.SigmaR,
			len(r.Settings), r.Result.Rounds, r.Result.Stop, win.Clip, win.Accuracy, r.FullBest.Clip, r.FullBest.Accuracy,
			r.FullBest.CI95, r.Gap.Estimate, r.Gap.Half, verdict, r.Result.Evaluations, r.Full, 100*(1-float64(r.Result.Evaluations)/float64(r.Full)))
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
