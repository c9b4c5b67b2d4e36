package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// watch and run show a race's round, survivors and eliminations: the
// progress line ends with them, and each elimination is printed once on
// its own line however often the sweep is shown.
func TestProgressShowsRoundsSurvivorsAndEliminationsOnce(t *testing.T) {
	var b bytes.Buffer
	bar := newSweepBar(&b)
	sw := &cfpb.Sweep{Spec: &cfpb.SweepSpec{Race: &cfpb.Race{}}, EtaSeconds: -1,
		Progress: &cfpb.Progress{Total: 240, Done: 120, Pending: 100, Cancelled: 20},
		Adaptive: &cfpb.AdaptiveProgress{Groups: 1, Round: 5, Survivors: 5, Dropped: 1, NotNeeded: 20,
			Eliminations: []string{"gamma=4: alpha 2 beta 0.125 dropped at round 5"}}}
	bar.update(sw)
	sw.Progress = &cfpb.Progress{Total: 240, Done: 204, Cancelled: 36}
	sw.Adaptive.Decided, sw.Adaptive.Round = 1, 10
	sw.Adaptive.Eliminations = append(sw.Adaptive.Eliminations, "gamma=4: alpha 1 beta 0.125 dropped at round 6")
	bar.update(sw)
	out := b.String()
	for _, want := range []string{"round 5: 5 survivors, 1 dropped, 0/1 groups decided, 20 shards not needed",
		"round 10: 5 survivors, 1 dropped, 1/1 groups decided", "race: gamma=4: alpha 1 beta 0.125 dropped at round 6\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "alpha 2 beta 0.125 dropped"); n != 1 {
		t.Errorf("the first elimination is shown %d times, want once:\n%s", n, out)
	}
	sw.Spec = &cfpb.SweepSpec{Adaptive: &cfpb.Adaptive{}}
	if got := adaptiveLine(sw); !strings.Contains(got, "precision target: 1/1 points decided, 20 shards not needed") {
		t.Errorf("a precision target's progress reads %q", got)
	}
}
