package sweep

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Defaults of an adaptive sweep's rules.
const (
	DefaultConfidence = 0.95
	// DefaultRaceBlock is the least a race's round adds per trial when the
	// spec names no block: rounded up to a multiple of images_per_shard.
	DefaultRaceBlock = 500
)

// raceYAML is the YAML form of cfpb.Race.
type raceYAML struct {
	GroupBy        []string  `yaml:"group_by"`
	Baseline       *clipYAML `yaml:"baseline"`
	Confidence     *float64  `yaml:"confidence"`
	Block          *int32    `yaml:"block"`
	MaxEvaluations int64     `yaml:"max_evaluations"`
	Margin         float64   `yaml:"margin"`
	Family         string    `yaml:"family"`
	Draws          string    `yaml:"draws"`
	Spending       string    `yaml:"spending"`
	MarginRule     string    `yaml:"margin_rule"`
	Growth         int32     `yaml:"growth"`
	Budget         float64   `yaml:"budget"`
}

// adaptiveYAML is the YAML form of cfpb.Adaptive.
type adaptiveYAML struct {
	HalfWidth  float64  `yaml:"halfwidth"`
	MaxTrials  *int32   `yaml:"max_trials"`
	Confidence *float64 `yaml:"confidence"`
}

// adaptiveProto sets the spec's race and precision target from their YAML
// form. A precision target's max_trials stands in for trials when the spec
// gives none: the layout must hold every trial the rule may ask for.
func (y *specYAML) adaptiveProto(s *cfpb.SweepSpec) {
	if r := y.Race; r != nil {
		s.Race = &cfpb.Race{GroupBy: r.GroupBy, MaxEvaluations: r.MaxEvaluations, Margin: r.Margin, Family: r.Family,
			Draws: r.Draws, Spending: r.Spending, MarginRule: r.MarginRule, Growth: r.Growth, Budget: r.Budget,
			Confidence: DefaultConfidence}
		// A YAML spec gets the recommended race, written out, so that the
		// replicated spec says which rule it runs (empty means the race
		// as first built).
		for _, d := range []struct {
			field *string
			name  string
		}{{&s.Race.Family, paired.RecommendedFamily},
			{&s.Race.Draws, paired.RecommendedDraws}, {&s.Race.Spending, paired.RecommendedSpending},
			{&s.Race.MarginRule, paired.RecommendedMarginRule}} {
			if *d.field == "" {
				*d.field = d.name
			}
		}
		if r.Baseline != nil {
			s.Race.Baseline = &cfpb.ClipSetting{Off: r.Baseline.Off, Alpha: r.Baseline.Alpha, Beta: r.Baseline.Beta}
		}
		if r.Confidence != nil {
			s.Race.Confidence = *r.Confidence
		}
		if r.Block != nil {
			s.Race.Block = *r.Block
		} else {
			s.Race.Block = -1 // filled in from images_per_shard once it is known
		}
	}
	if a := y.Adaptive; a != nil {
		s.Adaptive = &cfpb.Adaptive{Halfwidth: a.HalfWidth, Confidence: DefaultConfidence}
		if a.Confidence != nil {
			s.Adaptive.Confidence = *a.Confidence
		}
		if a.MaxTrials != nil {
			s.Adaptive.MaxTrials = *a.MaxTrials
			if y.Trials == nil {
				s.Trials = *a.MaxTrials
			}
		}
	}
}

// applyAdaptiveDefaults fills the race's block and the target's trials once
// images_per_shard and trials are set.
func applyAdaptiveDefaults(s *cfpb.SweepSpec) {
	if r := s.Race; r != nil && r.Block == -1 {
		r.Block = 0
		if per := s.ImagesPerShard; per > 0 {
			r.Block = (DefaultRaceBlock + per - 1) / per * per
		}
	}
	if a := s.Adaptive; a != nil && a.MaxTrials == 0 {
		a.MaxTrials = s.Trials
	}
}

// validateAdaptive checks the race and the precision target against the
// rest of the spec.
func validateAdaptive(s *cfpb.SweepSpec, errs *fieldErrors) {
	if s.Race != nil && s.Adaptive != nil {
		errs.add("adaptive", "a spec takes race or adaptive, not both")
	}
	if r := s.Race; r != nil {
		validateRace(s, r, errs)
	}
	if a := s.Adaptive; a != nil {
		if !(a.Halfwidth > 0) || math.IsInf(a.Halfwidth, 1) {
			errs.add("adaptive.halfwidth", "%v: want a finite number of accuracy points > 0", a.Halfwidth)
		}
		if !(a.Confidence > 0 && a.Confidence < 1) {
			errs.add("adaptive.confidence", "%v is not in (0, 1)", a.Confidence)
		}
		if a.MaxTrials < 1 || a.MaxTrials > s.Trials {
			errs.add("adaptive.max_trials", "%d: want 1 to trials (%d)", a.MaxTrials, s.Trials)
		}
	}
}

func validateRace(s *cfpb.SweepSpec, r *cfpb.Race, errs *fieldErrors) {
	if !(r.Confidence > 0 && r.Confidence < 1) {
		errs.add("race.confidence", "%v is not in (0, 1)", r.Confidence)
	}
	if per := s.ImagesPerShard; r.Block < 1 || per > 0 && r.Block%per != 0 {
		errs.add("race.block", "%d: want a positive multiple of images_per_shard (%d): a round adds whole shards", r.Block, per)
	}
	if r.MaxEvaluations < 0 {
		errs.add("race.max_evaluations", "%d must be >= 0 (0: no budget)", r.MaxEvaluations)
	}
	if !(r.Margin >= 0) || math.IsInf(r.Margin, 1) {
		errs.add("race.margin", "%v: want a finite number of accuracy points >= 0", r.Margin)
	}
	for _, o := range []struct {
		field, value string
		names        []string
	}{
		{"race.family", r.Family, slices.Sorted(maps.Keys(paired.FamilyNames))},
		{"race.draws", r.Draws, slices.Sorted(maps.Keys(paired.DrawsNames))},
		{"race.spending", r.Spending, slices.Sorted(maps.Keys(paired.SpendingNames))},
		{"race.margin_rule", r.MarginRule, slices.Sorted(maps.Keys(paired.MarginRuleNames))},
	} {
		if o.value != "" && !slices.Contains(o.names, o.value) {
			errs.add(o.field, "%q: want one of %s", o.value, strings.Join(o.names, ", "))
		}
	}
	if r.Growth < 0 {
		errs.add("race.growth", "%d: want 1 or more (0: 1)", r.Growth)
	}
	if !(r.Budget >= 0 && r.Budget <= 100) {
		errs.add("race.budget", "%v: want a percentage of the full grid in [0, 100] (0: none)", r.Budget)
	}
	if r.Budget > 0 && r.MaxEvaluations > 0 {
		errs.add("race.budget", "give race.budget or race.max_evaluations, not both")
	}
	if s.Grid == nil {
		return
	}
	axes := raceAxes(s.Grid)
	for i, a := range r.GroupBy {
		if _, ok := axes[a]; !ok {
			errs.add(fmt.Sprintf("race.group_by[%d]", i), "%q: want one of %s", a, strings.Join(slices.Sorted(maps.Keys(axes)), ", "))
		}
		if j := slices.Index(r.GroupBy, a); j < i {
			errs.add(fmt.Sprintf("race.group_by[%d]", i), "%q repeats race.group_by[%d]", a, j)
		}
	}
	settings := int64(1)
	for a, n := range axes {
		if !grouped(r, a) {
			settings = mulCapped(settings, n)
		}
	}
	if settings < 2 {
		errs.add("race.group_by", "%v leaves one setting per group: nothing to race (group by fewer axes)", groupAxes(r))
	} else if name := loneGroup(s, r); name != "" {
		// Axes derived from others (sigma_w from the granularity) can
		// leave a group of one where the axes' lengths promise more.
		errs.add("race.group_by", "%v leaves the group %s one setting: nothing to race (group by fewer axes)", groupAxes(r), name)
	}
	checkFirstRound(s, r, settings, errs)
	if b := r.Baseline; b != nil && !holdsClip(s.Grid, b) {
		errs.add("race.baseline", "%s is not one of the grid's clip settings", clipKey(b))
	}
}

// checkFirstRound refuses a budget under the first round's cost, settings
// x block x trials image evaluations, for groups of the given number of
// settings: such a race could not run a round.
func checkFirstRound(s *cfpb.SweepSpec, r *cfpb.Race, settings int64, errs *fieldErrors) {
	per := int64(s.ImagesPerShard)
	if per < 1 || r.Block < 1 || s.Trials < 1 {
		return // reported elsewhere
	}
	first := mulCapped(mulCapped(settings, int64(r.Block)/per*int64(s.Trials)), per)
	if r.MaxEvaluations > 0 && r.MaxEvaluations < first {
		errs.add("race.max_evaluations", "%d is under the first round's %d image evaluations (%d settings x block %d x %d trials)",
			r.MaxEvaluations, first, settings, r.Block, s.Trials)
	}
	if r.Budget > 0 {
		images, err := Images(s.Dataset)
		if err != nil {
			return
		}
		if budget := budgetShare(r.Budget, settings, int64(s.Trials), int64(images)); budget < first {
			errs.add("race.budget", "%v %% of the full grid (%d image evaluations per group) is under the first round's %d (%d settings x block %d x %d trials)",
				r.Budget, budget, first, settings, r.Block, s.Trials)
		}
	}
}

// loneGroup names the first group of a single point, "" when there is
// none or the grid does not expand (other checks report why).
func loneGroup(s *cfpb.SweepSpec, r *cfpb.Race) string {
	if checkShardCount(s, Limits{}) != nil {
		return ""
	}
	points, err := Points(s)
	if err != nil {
		return ""
	}
	size, first := map[string]int{}, map[string]*cfpb.Point{}
	var keys []string
	for _, p := range points {
		k := groupKey(p, groupAxes(r))
		if size[k] == 0 {
			keys, first[k] = append(keys, k), p
		}
		size[k]++
	}
	for _, k := range keys {
		if size[k] == 1 {
			return GroupName(s, first[k])
		}
	}
	return ""
}

// raceAxes maps every axis a race may group by to its number of values.
func raceAxes(g *cfpb.Grid) map[string]int64 {
	axes := map[string]int64{"gamma": int64(len(g.Gamma)), "clip": clipCount(g),
		"sigma_r": int64(max(len(g.SigmaR), 1)), "sigma_w": int64(max(len(g.SigmaW), 1))}
	for _, d := range g.Device {
		axes[d.Field] = int64(len(d.Values))
	}
	return axes
}

// groupAxes is the race's group_by, or its default: every axis but clip.
func groupAxes(r *cfpb.Race) []string {
	if len(r.GroupBy) > 0 {
		return r.GroupBy
	}
	return []string{"gamma", "sigma_r", "sigma_w", "device"}
}

// holdsClip reports whether the grid lists the clip setting, without
// expanding the product.
func holdsClip(g *cfpb.Grid, c *cfpb.ClipSetting) bool {
	for _, x := range g.Clip {
		if x.Off == c.Off && (c.Off || x.Alpha == c.Alpha && x.Beta == c.Beta) {
			return true
		}
	}
	cp := g.ClipProduct
	if cp == nil {
		return false
	}
	if c.Off {
		return cp.IncludeOff
	}
	return slices.Contains(cp.Alpha, c.Alpha) && slices.Contains(cp.Beta, c.Beta)
}

// RaceGroups lists the race's groups: the points that share the group_by
// axes' values, each in grid order, the groups in order of their first
// point. The default groups (every axis but clip) are those that
// `clipformer results --race` replays.
func RaceGroups(l *Layout, r *cfpb.Race) [][]int {
	axes := groupAxes(r)
	var groups [][]int
	index := map[string]int{}
	for i, p := range l.Points {
		k := groupKey(p, axes)
		g, ok := index[k]
		if !ok {
			g = len(groups)
			index[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// groupKey is a point's values on the axes; "device" is every device axis
// (the default groups), a field name that device axis alone.
func groupKey(p *cfpb.Point, axes []string) string {
	var b strings.Builder
	for _, a := range axes {
		switch a {
		case "gamma":
			fmt.Fprintf(&b, "gamma=%s ", fmtFloat(p.Gamma))
		case "sigma_r":
			fmt.Fprintf(&b, "sigma_r=%s ", fmtFloat(p.SigmaR))
		case "sigma_w":
			fmt.Fprintf(&b, "sigma_w=%s ", fmtFloat(p.SigmaW))
		case "clip":
			fmt.Fprintf(&b, "clip=%s ", clipKey(p.Clip))
		case "device":
			fmt.Fprintf(&b, "device=%q ", p.Device)
		}
	}
	return b.String()
}

// GroupName names point's group by its values on the race's axes, e.g.
// "gamma=4 sigma_r=0", and SettingName the point within its group by the
// other axes' values, e.g. "alpha 2 beta 0.25".
func GroupName(spec *cfpb.SweepSpec, p *cfpb.Point) string {
	return pointName(spec, p, func(a string) bool { return grouped(spec.GetRace(), a) })
}

// SettingName: see GroupName.
func SettingName(spec *cfpb.SweepSpec, p *cfpb.Point) string {
	return pointName(spec, p, func(a string) bool { return !grouped(spec.GetRace(), a) })
}

// grouped reports whether the race groups by axis a (a device axis's
// field is grouped by the default "device").
func grouped(r *cfpb.Race, a string) bool {
	axes := groupAxes(r)
	return slices.Contains(axes, a) || len(r.GetGroupBy()) == 0 && a != "clip"
}

func pointName(spec *cfpb.SweepSpec, p *cfpb.Point, show func(axis string) bool) string {
	g := spec.GetGrid()
	var parts []string
	if show("gamma") && len(g.GetGamma()) > 0 {
		parts = append(parts, "gamma="+fmtFloat(p.Gamma))
	}
	named := func(axis string) bool { return slices.Contains(spec.GetRace().GetGroupBy(), axis) }
	if show("sigma_r") && (len(g.GetSigmaR()) > 0 || named("sigma_r")) {
		parts = append(parts, "sigma_r="+fmtFloat(p.SigmaR))
	}
	if show("sigma_w") && (len(g.GetSigmaW()) > 0 || named("sigma_w")) {
		parts = append(parts, "sigma_w="+fmtFloat(p.SigmaW))
	}
	for i, d := range g.GetDevice() {
		if show(d.Field) {
			parts = append(parts, d.Field+"="+p.Device[i])
		}
	}
	if show("clip") {
		parts = append(parts, clipKey(p.Clip))
	}
	return strings.Join(parts, " ")
}

// RaceConfig is the race's rule for a layout: rounds of race.block images
// in every trial, in block-major order (RaceOrder), each unit one shard.
func RaceConfig(l *Layout, r *cfpb.Race) paired.RaceConfig {
	cfg := paired.RaceConfig{Confidence: r.Confidence, UnitsPerRound: int(r.Block) / l.Chunk * l.Trials, Margin: r.Margin,
		MaxEvaluations: r.MaxEvaluations, UnitImages: int64(l.Chunk), Growth: int(r.Growth),
		Family: paired.FamilyNames[r.Family], Draws: paired.DrawsNames[r.Draws],
		Spending: paired.SpendingNames[r.Spending], MarginRule: paired.MarginRuleNames[r.MarginRule]}
	return cfg
}

// RaceBudget is the image evaluations race.budget allows a group of the
// given number of settings: its share of the group's full grid, computed as
// `clipformer results --race --race-budget` does (0: no such budget).
func RaceBudget(l *Layout, r *cfpb.Race, settings int) int64 {
	if r.Budget <= 0 {
		return 0
	}
	return budgetShare(r.Budget, int64(settings), int64(l.Trials), int64(l.Images))
}

// budgetShare is percent % of a group's full grid, settings x trials x
// images evaluations, rounded down as `results --race --race-budget` does.
func budgetShare(percent float64, settings, trials, images int64) int64 {
	full := mulCapped(mulCapped(settings, trials), images)
	return int64(percent / 100 * float64(full))
}

// RaceOrder is the order a race visits a layout's units: block by block,
// every trial of each.
func RaceOrder(l *Layout) []paired.Unit { return paired.BlockMajor(l.Chunks, l.Trials) }

// PrecisionTarget is the precision rule of a layout's points.
func PrecisionTarget(l *Layout, a *cfpb.Adaptive) paired.Target {
	return paired.Target{HalfWidth: a.Halfwidth, Confidence: a.Confidence, Blocks: l.Chunks, MaxTrials: int(a.MaxTrials)}
}
