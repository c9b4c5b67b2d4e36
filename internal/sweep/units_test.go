package sweep

import (
	"errors"
	"testing"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Unit agrees with Shard (the block is the image range, the trial the
// trial) and ShardAt inverts it for every shard of the paper grid.
func TestUnitPlacesEveryShardAndShardAtInvertsIt(t *testing.T) {
	s, err := Parse("paper.yaml", []byte(paperSpec))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(s)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < l.Shards(); k++ {
		w := l.Shard("", k)
		pt, u := l.Unit(k)
		if pt != int(w.Point.Index) || u.Trial != int(w.Trial) || u.Block*l.Chunk != int(w.Start) {
			t.Fatalf("shard %d: Unit says point %d %+v; Shard says point %d, trial %d, start %d", k, pt, u, w.Point.Index, w.Trial, w.Start)
		}
		if back, err := l.ShardAt(pt, u); err != nil || back != k {
			t.Fatalf("ShardAt(%d, %+v) = %d, %v; want %d", pt, u, back, err, k)
		}
	}
	if _, err := l.ShardAt(0, paired.Unit{Block: l.Chunks}); !errors.Is(err, ErrSpec) {
		t.Errorf("a block past the data set: %v; want ErrSpec", err)
	}
}

// Outcomes gathers each done shard's counts under its point and unit.
func TestOutcomesGathersDoneShardsByPointAndUnit(t *testing.T) {
	s, err := Parse("paper.yaml", []byte(paperSpec))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLayout(s)
	done := map[int]*cfpb.Summary{}
	for k := 0; k < l.Shards(); k += 7 {
		done[k] = &cfpb.Summary{Images: 250, Correct: int64(k % 250)}
	}
	out, err := Outcomes(l, func(k int) *cfpb.Summary { return done[k] })
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for pt, o := range out {
		for u, c := range o {
			k, _ := l.ShardAt(pt, u)
			if done[k] == nil || c.Correct != done[k].Correct {
				t.Fatalf("point %d unit %+v holds %+v; shard %d is %v", pt, u, c, k, done[k])
			}
			n++
		}
	}
	if n != len(done) {
		t.Fatalf("%d outcomes for %d done shards", n, len(done))
	}
}
