package state

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// raceGrid is two groups (gamma 0 and 4) of seven settings, 2,000 images
// in 100-image shards, 2 trials.
const raceGrid = `
model: {path: m}
dataset: {kind: mnist, limit: 2000}
grid:
  gamma: [0, 4]
  clip_product: {include_off: true, alpha: [2, 3], beta: [0.125, 0.25, 0.5]}
images_per_shard: 100
trials: 2
`

// synthetic is a deterministic evaluator: against off, beta 0.125 is 25
// points worse, beta 0.5 8 points, alpha 2 beta 0.25 one point better; plus a block difficulty
// shared by every setting and a little per-shard noise keyed on the shard.
func synthetic(l *sweep.Layout, k int) *cfpb.Summary {
	pt, u := l.Unit(k)
	p := l.Points[pt]
	acc := 0.80
	switch {
	case p.Clip.Off:
	case p.Clip.Beta == 0.125:
		acc -= 0.25
	case p.Clip.Beta == 0.5:
		acc -= 0.08
	case p.Clip.Beta == 0.25 && p.Clip.Alpha == 2:
		acc += 0.01
	}
	h := fnv.New64a()
	fmt.Fprint(h, pt, u.Block, u.Trial)
	noise := float64(h.Sum64()%1000)/1000*0.06 - 0.03
	block := float64(u.Block%5)*0.02 - 0.04
	n := int64(l.Shard("", k).Count)
	c := int64((acc + block + noise) * float64(n))
	return &cfpb.Summary{Images: n, Correct: min(max(c, 0), n)}
}

// drive runs a sweep on the state with a scheduler like the leader's:
// each step picks shards for 9 slots, completes most of the leases it
// holds in a shuffled order and keeps the rest out for a later step (late
// results, some after their group is decided), and now and then lets a
// lease expire. It returns every command it applied, in order.
func drive(t *testing.T, s *State, spec *cfpb.SweepSpec, seed uint64) []*cfpb.Command {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	l, err := sweep.NewLayout(spec)
	if err != nil {
		t.Fatal(err)
	}
	var log []*cfpb.Command
	apply := func(c *cfpb.Command) *Response {
		log = append(log, c)
		return mustApply(t, s, c)
	}
	apply(cmd(1, &cfpb.SubmitSweep{SweepId: "race", Spec: spec}))
	var out []*cfpb.LeaseRef
	for now := int64(2); now < 10_000; now++ {
		sw, err := s.Sweep("race")
		if err != nil {
			t.Fatal(err)
		}
		if sw.State == cfpb.SweepState_SWEEP_STATE_DONE {
			return log
		}
		picks := s.Pick(now, []string{"w", "w", "w", "w", "w", "w", "w", "w", "w"})
		out = append(out, apply(cmd(now, &cfpb.AssignShards{Assignments: picks})).Granted...)
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		var results []*cfpb.ShardResult
		var keep []*cfpb.LeaseRef
		for _, lr := range out {
			switch x := rng.IntN(10); {
			case x < 2 && len(out) > 1:
				keep = append(keep, lr)
			case x == 2:
				apply(cmd(now, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: lr.SweepId, Shard: lr.Shard,
					LeaseId: lr.LeaseId, Reason: cfpb.ReleaseReason_RELEASE_REASON_LOST}}}))
			default:
				results = append(results, &cfpb.ShardResult{SweepId: lr.SweepId, Shard: lr.Shard, LeaseId: lr.LeaseId,
					Attempt: lr.Attempt, Worker: "w", Summary: synthetic(l, int(lr.Shard))})
			}
		}
		out = keep
		apply(cmd(now, &cfpb.CompleteShards{Results: results}))
	}
	t.Fatal("the sweep did not finish in 10,000 steps")
	return nil
}

// decisions is what a state decided: every point's decision, the sweep's
// adaptive progress and its shard counts.
func decisions(t *testing.T, s *State) string {
	t.Helper()
	res, err := s.Results("race")
	if err != nil {
		t.Fatal(err)
	}
	sw, err := s.Sweep("race")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, r := range res {
		fmt.Fprintln(&b, r.Point.Index, r.ShardsDone, prototext.Format(r.Decision))
	}
	fmt.Fprintln(&b, sw.State, prototext.Format(sw.Progress), prototext.Format(sw.Adaptive))
	return b.String()
}

// The state machine decides a race from committed results alone: applying
// its log again, or restoring a snapshot taken mid-race and applying the
// rest, gives the same decisions, the same shard table (the snapshots'
// bytes) and the same schedule.
func TestRaceReplayAndRestoreDecideAlike(t *testing.T) {
	for _, c := range []struct{ name, extra string }{
		{"race", "race: {block: 200}\n"},
		{"race with margin and budget", "race: {block: 200, margin: 4, family: best, max_evaluations: 20000}\n"},
		{"precision", "adaptive: {halfwidth: 3}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := sweep.Parse("r.yaml", []byte(raceGrid+c.extra))
			if err != nil {
				t.Fatal(err)
			}
			live := New()
			log := drive(t, live, spec, 7)
			want := decisions(t, live)

			replay := New()
			for _, cm := range log {
				replay.Apply(cm)
			}
			if got := decisions(t, replay); got != want {
				t.Errorf("replayed log decides\n%s\nthe live state\n%s", got, want)
			}
			if !bytes.Equal(snapBytes(t, replay), snapBytes(t, live)) {
				t.Error("the replayed state's snapshot differs from the live one's")
			}
			for _, cut := range []int{len(log) / 3, len(log) / 2, 2 * len(log) / 3} {
				mid := New()
				for _, cm := range log[:cut] {
					mid.Apply(cm)
				}
				r := restored(t, mid)
				if a, b := decisions(t, r), decisions(t, mid); a != b {
					t.Fatalf("restored at command %d decides\n%s\nthe state it was taken from\n%s", cut, a, b)
				}
				// Retries come back in shard order after a restore (the
				// release order is not replicated): the same set.
				if a, b := picked(r), picked(mid); a != b {
					t.Fatalf("restored at command %d picks %s, the state it was taken from %s", cut, a, b)
				}
				for _, cm := range log[cut:] {
					r.Apply(cm)
				}
				if got := decisions(t, r); got != want {
					t.Errorf("restored at command %d of %d and replayed decides\n%s\nthe live state\n%s", cut, len(log), got, want)
				}
			}
		})
	}
}

// picked is the set of shards Pick would lease to any number of slots:
// every shard the rules ask for and no other.
func picked(s *State) string {
	var ks []int
	for _, a := range s.Pick(1e6, slices.Repeat([]string{"w"}, 1000)) {
		ks = append(ks, int(a.Shard))
	}
	slices.Sort(ks)
	return fmt.Sprint(ks)
}

// The race in the state machine ends as the same race replayed on the full
// grid's outcomes (what `clipformer results --race` does), using a share
// of its shards; the precision target likewise.
func TestRaceEndsAsTheRaceReplayedOnTheFullGrid(t *testing.T) {
	for _, extra := range []string{"race: {block: 200, baseline: off}\n", "race: {block: 200, margin: 4, family: best}\n", "adaptive: {halfwidth: 3}\n"} {
		spec, err := sweep.Parse("r.yaml", []byte(raceGrid+extra))
		if err != nil {
			t.Fatal(err)
		}
		s := New()
		drive(t, s, spec, 3)
		l, _ := sweep.NewLayout(spec)
		full := make([]paired.Outcomes, len(l.Points))
		for i := range full {
			full[i] = paired.Outcomes{}
		}
		for k := 0; k < l.Shards(); k++ {
			pt, u := l.Unit(k)
			sum := synthetic(l, k)
			full[pt][u] = paired.Count{Images: sum.Images, Correct: sum.Correct}
		}
		res, err := s.Results("race")
		if err != nil {
			t.Fatal(err)
		}
		var done, dropped int
		if spec.Race != nil {
			for _, g := range sweep.RaceGroups(l, spec.Race) {
				settings := make([]paired.Outcomes, len(g))
				for i, p := range g {
					settings[i] = full[p]
				}
				want, err := paired.Race(sweep.RaceConfig(l, spec.Race), sweep.RaceOrder(l), settings)
				if err != nil {
					t.Fatal(err)
				}
				cfg := sweep.RaceConfig(l, spec.Race)
				for i, p := range g {
					st, d := want.Settings[i], res[p].Decision
					if spec.Race.Baseline != nil && i > 0 { // off is each group's first setting
						n := min(st.Round, want.Settings[0].Round) * cfg.UnitsPerRound
						iv, err := paired.Gain(full[p], full[g[0]], sweep.RaceOrder(l)[:n], cfg.Confidence)
						if err != nil || d.BaselineGain != iv.Estimate || d.BaselineHalf != iv.Half || d.BaselinePValue != iv.P() || iv.Half == 0 {
							t.Errorf("point %d: gain over off %v +- %v (p %v), want %v (%v)", p, d.BaselineGain, d.BaselineHalf, d.BaselinePValue, iv, err)
						}
					}
					if d.Status != st.Status.String() || d.Round != int32(st.Round) || d.Gain != st.Gain.Estimate || d.PValue != st.P {
						t.Errorf("%s point %d: %v, the full grid's race %v", extra, p, d, st)
					}
					if st.Status == paired.Dropped {
						dropped++
					}
				}
			}
			if dropped == 0 {
				t.Errorf("%s: no setting dropped: the race did not race", extra)
			}
		} else {
			for p, r := range res {
				want, err := paired.Precision(sweep.PrecisionTarget(l, spec.Adaptive), full[p])
				if err != nil {
					t.Fatal(err)
				}
				if d := r.Decision; d.Status != want.Status.String() || d.Half != want.Interval.Half || d.Round != int32(want.Blocks*want.Trials) {
					t.Errorf("%s point %d: %v, the full grid's plan %v", extra, p, d, want)
				}
			}
		}
		for _, r := range res {
			done += int(r.ShardsDone)
		}
		if done >= l.Shards()*3/4 {
			t.Errorf("%s: %d of %d shards done: the rules saved little", extra, done, l.Shards())
		}
		sw, _ := s.Sweep("race")
		if sw.Adaptive.Decided != sw.Adaptive.Groups || sw.Adaptive.NotNeeded == 0 || int(sw.Progress.Done+sw.Progress.Cancelled) != l.Shards() {
			t.Errorf("%s: ended with %v, progress %v: want every group decided and the rest not needed", extra, sw.Adaptive, sw.Progress)
		}
	}
}

// budgetRace is one group of three settings whose budget (300 image
// evaluations) ends the race after its first round of one 100-image shard
// per setting.
const budgetRace = `
model: {path: m}
dataset: {kind: mnist, limit: 400}
grid: {gamma: [0], clip: [off, {alpha: 2, beta: 0.25}, {alpha: 2, beta: 0.125}]}
images_per_shard: 100
race: {block: 100, max_evaluations: 300}
`

// A race leases only its round's shards; once its group is decided the
// rest are not needed, a lease still out may complete (recorded, the
// decisions unchanged) or end (cancelled, never retried), and the sweep is
// done when no lease is out.
func TestADecidedGroupsLeasesCompleteOrEndWithoutRetry(t *testing.T) {
	spec, err := sweep.Parse("b.yaml", []byte(budgetRace))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := sweep.NewLayout(spec)
	for _, late := range []string{"completes", "expires"} {
		s := New()
		mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "race", Spec: spec}))
		leases := leaseAll(t, s, 2, "w", 10)
		if len(leases) != 3 {
			t.Fatalf("leased %d shards, want the 3 of round 1", len(leases))
		}
		for p := range l.Points {
			k, _ := l.ShardAt(p, paired.Unit{Block: 0, Trial: 0})
			if !slices.ContainsFunc(leases, func(lr *cfpb.LeaseRef) bool { return int(lr.Shard) == k }) {
				t.Fatalf("point %d's block 0 (shard %d) not leased: %v", p, k, leases)
			}
		}
		// A lease the race has not asked for yet, as a stale pick would
		// be: out when the group is decided.
		k1, _ := l.ShardAt(0, paired.Unit{Block: 1, Trial: 0})
		out := mustApply(t, s, cmd(3, &cfpb.AssignShards{Assignments: []*cfpb.Assignment{{SweepId: "race", Shard: int32(k1), Worker: "w"}}})).Granted[0]
		var results []*cfpb.ShardResult
		for _, lr := range leases {
			results = append(results, &cfpb.ShardResult{SweepId: "race", Shard: lr.Shard, LeaseId: lr.LeaseId, Attempt: lr.Attempt, Worker: "w",
				Summary: synthetic(l, int(lr.Shard))})
		}
		mustApply(t, s, cmd(4, &cfpb.CompleteShards{Results: results}))
		before := decisions(t, s)
		sw, _ := s.Sweep("race")
		if sw.State != cfpb.SweepState_SWEEP_STATE_RUNNING || sw.Progress.Leased != 1 || sw.Progress.Cancelled != int64(l.Shards()-4) ||
			sw.Adaptive.Decided != 1 || len(s.Pick(5, []string{"w"})) != 0 {
			t.Fatalf("after round 1: %v, %v: want the group decided, the one lease out, %d shards not needed, nothing to pick",
				sw.Progress, sw.Adaptive, l.Shards()-4)
		}
		if late == "completes" {
			r := mustApply(t, s, cmd(6, &cfpb.CompleteShards{Results: []*cfpb.ShardResult{{SweepId: "race", Shard: out.Shard, LeaseId: out.LeaseId,
				Attempt: out.Attempt, Worker: "w", Summary: synthetic(l, int(out.Shard))}}}))
			if r.Completed != 1 {
				t.Errorf("the late result: %+v, want it recorded", r)
			}
		} else {
			mustApply(t, s, cmd(6, &cfpb.ReleaseShards{Releases: []*cfpb.Release{{SweepId: "race", Shard: out.Shard, LeaseId: out.LeaseId,
				Reason: cfpb.ReleaseReason_RELEASE_REASON_EXPIRED}}}))
		}
		sw, _ = s.Sweep("race")
		if sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Failed != 0 || len(s.Pick(7, []string{"w"})) != 0 {
			t.Errorf("after the late lease %s: %v %v, want done, nothing failed, nothing to pick", late, sw.State, sw.Progress)
		}
		after := decisions(t, s)
		// The late shard is counted done (or not) but decides nothing.
		if strip(after) != strip(before) {
			t.Errorf("the late lease %s changed the decisions:\n%s\nwere\n%s", late, after, before)
		}
	}
}

// strip keeps the decisions of a decisions() listing, without the shard
// counts that a late result changes.
func strip(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			out = append(out, strings.Join(f[2:], " "))
		}
	}
	return strings.Join(out[:len(out)-1], "\n")
}

// A shard a race needs that fails for good stops its group: the round can
// never complete. The sweep then finishes, the setting "stopped".
func TestAFailedShardStopsItsRace(t *testing.T) {
	spec, err := sweep.Parse("b.yaml", []byte(budgetRace))
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	mustApply(t, s, cmd(1, &cfpb.SubmitSweep{SweepId: "race", Spec: spec}))
	for now := int64(2); now < 2+MaxFailures; now++ {
		var rels []*cfpb.Release
		for _, lr := range leaseAll(t, s, now, "w", 1) {
			rels = append(rels, &cfpb.Release{SweepId: "race", Shard: lr.Shard, LeaseId: lr.LeaseId, Reason: cfpb.ReleaseReason_RELEASE_REASON_ERROR, Error: "boom"})
		}
		mustApply(t, s, cmd(now, &cfpb.ReleaseShards{Releases: rels}))
	}
	sw, _ := s.Sweep("race")
	res, _ := s.Results("race")
	if sw.State != cfpb.SweepState_SWEEP_STATE_DONE || sw.Progress.Failed != 1 || sw.Adaptive.Decided != 1 ||
		!strings.HasPrefix(res[0].Decision.Stop, "shard ") || res[0].Decision.Status != "stopped" {
		t.Errorf("after a needed shard failed: %v %v %v, decision %v: want the race stopped and the sweep done", sw.State, sw.Progress, sw.Adaptive, res[0].Decision)
	}
}
