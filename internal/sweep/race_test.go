package sweep

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/proto/cfpb"
)

const raceSpec = `
model: {path: m.safetensors}
dataset: {kind: fashion-mnist, limit: 1000}
grid:
  gamma: [3, 4]
  sigma_r: [0, 0.05]
  clip_product: {include_off: true, alpha: [2, 3], beta: [0.25, 0.5]}
trials: 2
images_per_shard: 100
`

// The race's fields reach the spec with their defaults: confidence 0.95,
// a block of the least multiple of images_per_shard from 500, and the
// recommended race's options written out.
func TestRaceSpecParsesWithDefaults(t *testing.T) {
	s, err := Parse("r.yaml", []byte(raceSpec+"race: {group_by: [gamma, sigma_r], baseline: off, max_evaluations: 9000, margin: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &cfpb.Race{GroupBy: []string{"gamma", "sigma_r"}, Baseline: &cfpb.ClipSetting{Off: true}, Confidence: 0.95, Block: 500,
		MaxEvaluations: 9000, Margin: 2, Family: "best", Draws: "given", Spending: "max-rounds", MarginRule: "one-sided"}
	if !proto.Equal(s.Race, want) {
		t.Errorf("race %v, want %v", s.Race, want)
	}
	s, err = Parse("r.yaml", []byte(strings.Replace(raceSpec, "images_per_shard: 100", "images_per_shard: 300", 1)+"race: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Race.Block != 600 {
		t.Errorf("block %d with 300 images per shard, want 600", s.Race.Block)
	}
	s, err = Parse("a.yaml", []byte(strings.Replace(raceSpec, "trials: 2\n", "", 1)+"adaptive: {halfwidth: 0.5, max_trials: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Trials != 10 || s.Adaptive.MaxTrials != 10 || s.Adaptive.Halfwidth != 0.5 || s.Adaptive.Confidence != 0.95 {
		t.Errorf("adaptive spec: trials %d, target %v; want 10 trials, halfwidth 0.5 within 10 trials at 0.95", s.Trials, s.Adaptive)
	}
}

func TestBadRaceAndAdaptiveSpecsNameTheField(t *testing.T) {
	for _, c := range []struct{ extra, want string }{
		{"race: {group_by: [gamma, colour]}", `race.group_by[1]: "colour": want one of clip, gamma, sigma_r, sigma_w`},
		{"race: {group_by: [gamma, gamma]}", `race.group_by[1]: "gamma" repeats race.group_by[0]`},
		{"race: {group_by: [gamma, sigma_r, clip]}", "race.group_by: [gamma sigma_r clip] leaves one setting per group"},
		{"race: {baseline: {alpha: 5, beta: 0.25}}", "race.baseline: alpha 5 beta 0.25 is not one of the grid's clip settings"},
		{"race: {confidence: 1}", "race.confidence: 1 is not in (0, 1)"},
		{"race: {block: 250}", "race.block: 250: want a positive multiple of images_per_shard (100)"},
		{"race: {max_evaluations: -1}", "race.max_evaluations: -1 must be >= 0"},
		{"race: {margin: -2}", "race.margin: -2: want a finite number"},
		{"race: {family: worst}", `race.family: "worst": want one of all, best`},
		{"race: {draws: some}", `race.draws: "some": want one of given, over`},
		{"race: {spending: fast}", `race.spending: "fast": want one of by-round, max-rounds`},
		{"race: {margin_rule: loose}", `race.margin_rule: "loose": want one of both-sided, one-sided`},
		{"race: {growth: -1}", "race.growth: -1: want 1 or more"},
		{"race: {budget: 120}", "race.budget: 120: want a percentage of the full grid in [0, 100]"},
		{"race: {budget: 50, max_evaluations: 9000}", "race.budget: give race.budget or race.max_evaluations, not both"},
		{"race: {budget: 40}", "race.budget: 40 % of the full grid (4000 image evaluations per group) is under the first round's 5000 (5 settings x block 500 x 2 trials)"},
		{"race: {max_evaluations: 4000}", "race.max_evaluations: 4000 is under the first round's 5000 image evaluations (5 settings x block 500 x 2 trials)"},
		{"race: {blocks: 500}", "race.blocks"},
		{"adaptive: {halfwidth: 0}", "adaptive.halfwidth: 0: want a finite number"},
		{"adaptive: {halfwidth: 1, max_trials: 3}", "adaptive.max_trials: 3: want 1 to trials (2)"},
		{"adaptive: {halfwidth: 1, confidence: 95}", "adaptive.confidence: 95 is not in (0, 1)"},
		{"adaptive: {halfwidth: 1}\nrace: {}", "adaptive: a spec takes race or adaptive, not both"},
	} {
		_, err := Parse("bad.yaml", []byte(raceSpec+c.extra+"\n"))
		if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.extra, err, c.want)
		}
	}
}

// The default groups are the points that share every axis but clip, in
// grid order: the groups `clipformer results --race` replays.
func TestRaceGroupsShareTheGroupByAxes(t *testing.T) {
	s, err := Parse("r.yaml", []byte(raceSpec+"race: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(s)
	if err != nil {
		t.Fatal(err)
	}
	groups := RaceGroups(l, s.Race)
	if len(groups) != 4 {
		t.Fatalf("%d groups, want 4 (2 gamma x 2 sigma_r)", len(groups))
	}
	for gi, g := range groups {
		if len(g) != 5 {
			t.Fatalf("group %d has %d settings, want 5", gi, len(g))
		}
		first := l.Points[g[0]]
		for j, pt := range g {
			p := l.Points[pt]
			if p.Gamma != first.Gamma || p.SigmaR != first.SigmaR || j > 0 && pt <= g[j-1] {
				t.Errorf("group %d: point %d (%v) does not share gamma and sigma_r with %v, or is out of grid order", gi, pt, p, first)
			}
		}
		if got := GroupName(s, first); got != "gamma=3 sigma_r=0" && gi == 0 {
			t.Errorf("group 0 is named %q, want gamma=3 sigma_r=0", got)
		}
	}
	s.Race.GroupBy = []string{"sigma_r"}
	if groups := RaceGroups(l, s.Race); len(groups) != 2 || len(groups[0]) != 10 {
		t.Errorf("grouped by sigma_r alone: %d groups, want 2 of 10 settings", len(groups))
	}
	if got := SettingName(s, l.Points[groups[0][1]]); got != "gamma=3 alpha 2 beta 0.25" {
		t.Errorf("setting name %q, want gamma=3 alpha 2 beta 0.25", got)
	}
}

// A race or a precision target changes which shards run, never what a
// shard computes: every shard's work is the full grid's.
func TestAnAdaptiveSweepsShardsAreTheFullGridsShards(t *testing.T) {
	full, err := Parse("f.yaml", []byte(raceSpec))
	if err != nil {
		t.Fatal(err)
	}
	lf, err := NewLayout(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range []string{"race: {margin: 1}\n", "adaptive: {halfwidth: 1}\n"} {
		s, err := Parse("a.yaml", []byte(raceSpec+extra))
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLayout(s)
		if err != nil {
			t.Fatal(err)
		}
		if l.Shards() != lf.Shards() {
			t.Fatalf("%s: %d shards, the full grid %d", extra, l.Shards(), lf.Shards())
		}
		for k := 0; k < l.Shards(); k++ {
			if a, b := l.Shard("x", k), lf.Shard("x", k); !proto.Equal(a, b) {
				t.Fatalf("%s: shard %d is %v, in the full grid %v", extra, k, a, b)
			}
			pt, u := l.Unit(k)
			if back, err := l.ShardAt(pt, u); err != nil || back != k {
				t.Fatalf("shard %d: ShardAt(Unit) = %d, %v", k, back, err)
			}
		}
	}
}

// A race or precision target the parser accepts is one the rules accept:
// every group has settings to race, and the rules start without an error.
func FuzzRaceSpec(f *testing.F) {
	f.Add([]byte(raceSpec + "race: {group_by: [gamma], baseline: off, block: 300, margin: 1, family: best, max_evaluations: 7000}\n"))
	f.Add([]byte(raceSpec + "race: {group_by: [clip]}\n"))
	f.Add([]byte(raceSpec + "race: {budget: 60, draws: over, spending: by-round, margin_rule: both-sided, growth: 2}\n"))
	f.Add([]byte(raceSpec + "adaptive: {halfwidth: 0.5, max_trials: 2, confidence: 0.9}\n"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist, limit: 10}\ngrid: {gamma: [1, 2], device: [{field: adc_bits, values: [0, 4]}]}\nrace: {group_by: [adc_bits]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.yaml", b)
		if err != nil || s.Race == nil && s.Adaptive == nil {
			return
		}
		l, err := NewLayout(s)
		if err != nil {
			t.Fatalf("accepted spec does not lay out: %v", err)
		}
		if s.Adaptive != nil {
			if _, err := paired.Precision(PrecisionTarget(l, s.Adaptive), paired.Outcomes{}); err != nil {
				t.Fatalf("accepted target %v: %v", s.Adaptive, err)
			}
			return
		}
		for _, g := range RaceGroups(l, s.Race) {
			settings := make([]paired.Outcomes, len(g))
			for i := range settings {
				settings[i] = paired.Outcomes{}
			}
			cfg := RaceConfig(l, s.Race)
			if b := RaceBudget(l, s.Race, len(g)); b > 0 {
				cfg.MaxEvaluations = b
			}
			if _, err := paired.Race(cfg, RaceOrder(l), settings); err != nil {
				t.Fatalf("accepted race %v, group %v: %v", s.Race, g, err)
			}
		}
	})
}

// An axis derived from another (sigma_w from each granularity's
// calibration) can leave a group of one setting where the axes' lengths
// promise two: the spec is refused, naming the group.
func TestARaceWithAGroupOfOneIsRefused(t *testing.T) {
	_, err := Parse("r.yaml", []byte("model: {path: m}\ndataset: {kind: mnist, limit: 100}\n"+
		"grid: {gamma: [1], device: [{field: granularity, values: [slice, value]}]}\nrace: {group_by: [gamma, sigma_w]}\n"))
	if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), "race.group_by: [gamma sigma_w] leaves the group gamma=1 sigma_w=") {
		t.Errorf("error %v, want race.group_by naming the group of one", err)
	}
}
