package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/paired"
)

func TestParseClipAcceptsTheThreeForms(t *testing.T) {
	for in, want := range map[string]string{"off": "off", " 2,0.25 ": "alpha=2 beta=0.25", "alpha=3 beta=0.375": "alpha=3 beta=0.375"} {
		if got, err := ParseClip(in); err != nil || got != want {
			t.Errorf("ParseClip(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseClip("2;0.25"); err == nil || !strings.Contains(err.Error(), "want off, ALPHA,BETA") {
		t.Errorf("ParseClip(2;0.25): %v", err)
	}
}

// Shards written and read back give the same outcomes per point, and
// Compare pairs each setting with the baseline of its own group (here two
// sigma_r values): the gain over the shared units, and the unpaired
// half-width sqrt(a^2 + b^2) of the rows' intervals.
func TestShardsRoundTripAndCompareWithinGroups(t *testing.T) {
	var shards []ShardRow
	correct := map[int][]int64{0: {70, 80}, 1: {75, 84}, 2: {60, 61}, 3: {50, 52}}
	for p, cs := range correct {
		for b, c := range cs {
			shards = append(shards, ShardRow{Point: p, Block: b, Start: 100 * b, Images: 100, Correct: c})
		}
	}
	var buf bytes.Buffer
	if err := WriteShards(&buf, shards); err != nil {
		t.Fatal(err)
	}
	outcomes, err := ReadShards(&buf, "shards.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != 4 || outcomes[1][paired.Unit{Block: 1}].Correct != 84 {
		t.Fatalf("read back %v", outcomes)
	}
	rows := []Row{
		{Point: 0, Clip: "off", SigmaR: 0, Trials: 1, CI95: 3},
		{Point: 1, Clip: "alpha=2 beta=0.25", SigmaR: 0, Trials: 1, CI95: 4},
		{Point: 2, Clip: "off", SigmaR: 0.1, Trials: 1, CI95: 1},
		{Point: 3, Clip: "alpha=2 beta=0.25", SigmaR: 0.1, Trials: 1, CI95: 1},
	}
	cmp, err := Compare(rows, outcomes, "off", 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp) != 2 || cmp[0].Baseline.Point != 0 || cmp[1].Baseline.Point != 2 {
		t.Fatalf("compare pairs %+v; want point 1 with 0 and point 3 with 2", cmp)
	}
	// Point 1 over point 0: +5 and +4 of 100 -> +4.5 points.
	if g := cmp[0].Paired.Estimate; math.Abs(g-4.5) > 1e-12 || cmp[0].Unpaired != 5 {
		t.Errorf("gain %v, unpaired %v; want 4.5 and sqrt(3^2+4^2) = 5", g, cmp[0].Unpaired)
	}
	if tw := cmp[0].TwoWay; tw.Estimate != cmp[0].Paired.Estimate || !(tw.Half > cmp[0].Paired.Half) {
		t.Errorf("two-way unpaired %+v; want the same gain, wider than the paired %+v", tw, cmp[0].Paired)
	}
	if g := cmp[1].Paired.Estimate; math.Abs(g+9.5) > 1e-12 {
		t.Errorf("gain %v; want (-10 - 9)/2 = -9.5", g)
	}
}

func TestReadShardsNamesTheBadLineAndColumn(t *testing.T) {
	for in, want := range map[string]string{
		"a,b\n": "not a shards CSV",
		"point,trial,block,start,images,correct\n0,0,0,0,100,x\n":                "shards.csv:2: column correct",
		"point,trial,block,start,images,correct\n0,0,0,0,100,5\n0,0,0,0,100,6\n": "shards.csv:3: point 0",
		"point,trial,block,start,images,correct\n0,0,0,0,100,101\n":              "101 correct of 100",
	} {
		if _, err := ReadShards(strings.NewReader(in), "shards.csv"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want an error naming %q", in, err, want)
		}
	}
}
