package state

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// adaptive is an adaptive sweep's decision state: a race per group, or a
// precision target per point (a group of one). None of it is replicated:
// it is a function of the done shards' outcomes, rebuilt from them on
// restore, so a replay and a restored snapshot decide alike.
//
// A group is decided again only when the shards its current round asked
// for are all done (or one of them failed): until then paired.Race and
// paired.Precision would return what they returned last, since they read
// only the units they asked for. A completion thus costs a lookup, and a
// round one call of the rule for its own group.
type adaptive struct {
	race     *paired.RaceConfig // nil: a precision target
	target   paired.Target
	order    []paired.Unit
	groups   []*group
	groupOf  []int             // grid point -> its group
	outcomes []paired.Outcomes // per grid point, its done shards
	closed   []bool            // per grid point: dropped or its group decided
	decided  int               // groups whose rule has stopped
}

// group is one race, or one point's precision target.
type group struct {
	points []int // grid points, in grid order: the race's settings
	// baseline is the group's point of the race's baseline setting, -1
	// for none.
	baseline int
	race     paired.RaceResult
	plan     paired.Plan
	// stop says why the group is decided ("" while it runs).
	stop string
	// wanted lists the shards the current round needs, ascending, and
	// missing how many of them are not done.
	wanted  []int
	missing int
	// maxEvaluations is the group's share of race.budget (0: none; the
	// race's own max_evaluations then applies).
	maxEvaluations int64
}

// startAdaptive sets up the decision state of a sweep whose spec asks for
// a race or a precision target and takes the decisions that the shards
// already done allow: on submission, none; on restore, the ones Apply took.
func (sw *sweepState) startAdaptive() {
	spec, l := sw.spec, sw.layout
	if spec.GetRace() == nil && spec.GetAdaptive() == nil {
		return
	}
	a := &adaptive{groupOf: make([]int, len(l.Points)), outcomes: make([]paired.Outcomes, len(l.Points)),
		closed: make([]bool, len(l.Points))}
	var points [][]int
	if r := spec.GetRace(); r != nil {
		cfg := sweep.RaceConfig(l, r)
		a.race, a.order, points = &cfg, sweep.RaceOrder(l), sweep.RaceGroups(l, r)
	} else {
		a.target = sweep.PrecisionTarget(l, spec.GetAdaptive())
		for i := range l.Points {
			points = append(points, []int{i})
		}
	}
	for gi, pts := range points {
		g := &group{points: pts, baseline: -1}
		if r := spec.GetRace(); r != nil {
			g.maxEvaluations = sweep.RaceBudget(l, r, len(pts))
		}
		a.groups = append(a.groups, g)
		for _, p := range pts {
			a.groupOf[p] = gi
			if b := spec.GetRace().GetBaseline(); b != nil && g.baseline < 0 && sameClip(b, l.Points[p].Clip) {
				g.baseline = p
			}
		}
	}
	for i := range a.outcomes {
		a.outcomes[i] = paired.Outcomes{}
	}
	for k := range sw.shards {
		if r := sw.shards[k].result; r != nil {
			pt, u := l.Unit(k)
			// The summary was checked when it was recorded: it fits.
			_ = a.outcomes[pt].Add(u, paired.Count{Images: r.images, Correct: r.correct})
		}
	}
	sw.adaptive = a
	for _, g := range a.groups {
		sw.decide(g)
	}
}

// noteDone feeds newly recorded shards, all of one point (a shard and its
// copies), to their group's rule. Every outcome is added before the rule
// runs: a rule that saw a done shard without its outcome would wait for it
// forever.
func (sw *sweepState) noteDone(ks ...int) {
	a := sw.adaptive
	if a == nil {
		return
	}
	pt, _ := sw.layout.Unit(ks[0])
	wanted := 0
	g := a.groups[a.groupOf[pt]]
	for _, k := range ks {
		p, u := sw.layout.Unit(k)
		r := sw.shards[k].result
		_ = a.outcomes[p].Add(u, paired.Count{Images: r.images, Correct: r.correct})
		if g.stop == "" && g.wants(k) {
			wanted++
		}
	}
	if wanted > 0 {
		if g.missing -= wanted; g.missing == 0 {
			sw.decide(g)
		}
	}
}

// noteFailed stops the group of a shard that failed for good, when its
// rule was waiting for it: the round can never complete.
func (sw *sweepState) noteFailed(k int) {
	if a := sw.adaptive; a != nil {
		pt, _ := sw.layout.Unit(k)
		if g := a.groups[a.groupOf[pt]]; g.stop == "" && g.wants(k) {
			sw.decide(g)
		}
	}
}

// notNeeded reports whether shard k's point is decided: the shard is
// never leased (again).
func (sw *sweepState) notNeeded(k int) bool {
	if sw.adaptive == nil {
		return false
	}
	pt, _ := sw.layout.Unit(k)
	return sw.adaptive.closed[pt]
}

func (g *group) wants(k int) bool {
	_, ok := slices.BinarySearch(g.wanted, k)
	return ok
}

// decide applies the group's rule to its committed outcomes, lists the
// shards its next round needs, and takes the shards of dropped settings
// and of a decided group out of the schedule.
func (sw *sweepState) decide(g *group) {
	a, l := sw.adaptive, sw.layout
	var next []paired.Unit
	var survivors []int
	running := true
	if a.race != nil {
		settings := make([]paired.Outcomes, len(g.points))
		for i, p := range g.points {
			settings[i] = a.outcomes[p]
		}
		cfg := *a.race
		if g.maxEvaluations > 0 {
			cfg.MaxEvaluations = g.maxEvaluations
		}
		res, err := paired.Race(cfg, a.order, settings)
		switch {
		case err != nil:
			g.stop = "error: " + err.Error()
			running = false
		case res.Stop != paired.Running:
			g.stop = res.Stop.String()
			running = false
		}
		g.race = res
		next = res.Next
		for _, i := range res.Survivors {
			survivors = append(survivors, g.points[i])
		}
		for i, st := range res.Settings {
			if st.Status == paired.Dropped {
				sw.close(g.points[i])
			}
		}
	} else {
		plan, err := paired.Precision(a.target, a.outcomes[g.points[0]])
		switch {
		case err != nil:
			g.stop = "error: " + err.Error()
			running = false
		case plan.Status != paired.Measuring:
			g.stop = plan.Status.String()
			running = false
		}
		g.plan, next, survivors = plan, plan.Next, g.points
	}
	g.wanted, g.missing = g.wanted[:0], 0
	if running {
		for _, p := range survivors {
			for _, u := range next {
				k, err := l.ShardAt(p, u)
				if err != nil {
					continue // the rules ask only for units of the layout
				}
				g.wanted = append(g.wanted, k)
				switch sw.shards[k].state {
				case cfpb.ShardState_SHARD_STATE_DONE:
				case cfpb.ShardState_SHARD_STATE_FAILED:
					g.stop = fmt.Sprintf("shard %d failed", k)
				default:
					g.missing++
				}
			}
		}
		slices.Sort(g.wanted)
	}
	if g.stop == "" {
		return
	}
	g.wanted, g.missing = nil, 0
	a.decided++
	for _, p := range g.points {
		sw.close(p)
	}
}

// close takes point p's pending shards out of the schedule: they are not
// needed. Leased ones may still complete; they are recorded, and the
// rules ignore them.
func (sw *sweepState) close(p int) {
	a, l := sw.adaptive, sw.layout
	if a.closed[p] {
		return
	}
	a.closed[p] = true
	for t := 0; t < l.Trials; t++ {
		for b := 0; b < l.Chunks; b++ {
			k, _ := l.ShardAt(p, paired.Unit{Block: b, Trial: t})
			if sh := &sw.shards[k]; sh.state == cfpb.ShardState_SHARD_STATE_PENDING {
				sw.cancelPending(k)
			}
		}
	}
}

// cancelPending moves pending shard k to cancelled, out of the retries.
func (sw *sweepState) cancelPending(k int) {
	sh := &sw.shards[k]
	if sh.attempt > 0 {
		if i := slices.Index(sw.retry, k); i >= 0 {
			sw.retry = slices.Delete(sw.retry, i, i+1)
		}
	}
	sw.move(sh, cfpb.ShardState_SHARD_STATE_CANCELLED)
}

// wantedFresh lists the never-leased pending shards that the running
// groups' rounds need, in shard order (which interleaves the grid): what
// Pick leases from an adaptive sweep instead of its fresh cursor.
func (a *adaptive) wantedFresh(sw *sweepState) []int {
	var out []int
	for _, g := range a.groups {
		for _, k := range g.wanted {
			if sh := &sw.shards[k]; sh.state == cfpb.ShardState_SHARD_STATE_PENDING && sh.attempt == 0 && !sw.isCopy(k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// maxEliminations is how many of the latest eliminations a sweep's
// progress lists: enough that a watch polling every ten seconds misses none
// in a race of a few hundred settings.
const maxEliminations = 50

// progress is the adaptive part of a sweep's description.
func (a *adaptive) progress(sw *sweepState) *cfpb.AdaptiveProgress {
	p := &cfpb.AdaptiveProgress{Groups: int32(len(a.groups)), Decided: int32(a.decided)}
	if sw.state != cfpb.SweepState_SWEEP_STATE_CANCELLED {
		p.NotNeeded = sw.counts[cfpb.ShardState_SHARD_STATE_CANCELLED]
	}
	type drop struct{ round, group, point int }
	var drops []drop
	for gi, g := range a.groups {
		if a.race == nil {
			if g.stop == "" {
				p.Survivors++
			}
			p.Round = max(p.Round, int32(g.plan.Blocks*g.plan.Trials))
			continue
		}
		p.Round = max(p.Round, int32(g.race.Rounds))
		for i, st := range g.race.Settings {
			if st.Status == paired.Dropped {
				p.Dropped++
				drops = append(drops, drop{st.Round, gi, g.points[i]})
			} else {
				p.Survivors++
			}
		}
	}
	// The latest eliminations, by round, then group and grid order: the
	// same list whatever order the groups' rounds completed in.
	slices.SortFunc(drops, func(x, y drop) int {
		return cmp.Or(cmp.Compare(x.round, y.round), cmp.Compare(x.group, y.group), cmp.Compare(x.point, y.point))
	})
	for _, d := range drops[max(0, len(drops)-maxEliminations):] {
		pt := sw.layout.Points[d.point]
		p.Eliminations = append(p.Eliminations, fmt.Sprintf("%s: %s dropped at round %d",
			sweep.GroupName(sw.spec, pt), sweep.SettingName(sw.spec, pt), d.round))
	}
	return p
}

// decision is grid point p's standing, for its results.
func (a *adaptive) decision(p int) *cfpb.Decision {
	gi := a.groupOf[p]
	g := a.groups[gi]
	d := &cfpb.Decision{Group: int32(gi), Against: int32(p), Stop: g.stop}
	if d.Stop == "" {
		d.Stop = "running"
	}
	if a.race == nil {
		d.Status, d.Round, d.Half = g.plan.Status.String(), int32(g.plan.Blocks*g.plan.Trials), g.plan.Interval.Half
		if g.stop != "" && g.plan.Status == paired.Measuring {
			d.Status = "stopped"
		}
		for _, c := range a.outcomes[p] {
			d.Images += c.Images
		}
		return d
	}
	i := slices.Index(g.points, p)
	if i >= len(g.race.Settings) {
		d.Status = "stopped" // the race could not start (an error)
		return d
	}
	st := g.race.Settings[i]
	d.Status, d.Round, d.Against = st.Status.String(), int32(st.Round), int32(g.points[st.Against])
	d.Gain, d.Half, d.PValue, d.Alpha, d.Images = st.Gain.Estimate, st.Gain.Half, st.P, st.Alpha, st.Images
	if g.stop != "" && st.Status == paired.Racing {
		d.Status = "stopped" // a shard it needed failed
	}
	if b := g.baseline; b >= 0 && b != p {
		a.baselineGain(d, p, b, st.Round, g.race.Settings[slices.Index(g.points, b)].Round)
	}
	return d
}

// baselineGain sets d's paired gain of point p over the baseline point b
// over the units of the earlier of their rounds: both hold every one.
func (a *adaptive) baselineGain(d *cfpb.Decision, p, b, roundP, roundB int) {
	n := min(roundP, roundB) * a.race.UnitsPerRound
	if n == 0 {
		return
	}
	iv, err := paired.Gain(a.outcomes[p], a.outcomes[b], a.order[:min(n, len(a.order))], a.race.Confidence)
	if err != nil {
		return // too few units for an interval
	}
	d.BaselineGain, d.BaselineHalf, d.BaselinePValue = iv.Estimate, iv.Half, iv.P()
}

func sameClip(a, b *cfpb.ClipSetting) bool {
	return a.Off == b.Off && (a.Off || a.Alpha == b.Alpha && a.Beta == b.Beta)
}
