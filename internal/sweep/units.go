package sweep

import (
	"fmt"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Unit places shard k: its grid point's index and its unit, the image
// block (the shard's image range) and the trial that paired statistics
// pair settings over.
func (l *Layout) Unit(k int) (point int, u paired.Unit) {
	p := len(l.Points)
	pos, rest := k%p, k/p
	return l.order[pos], paired.Unit{Block: rest % l.Chunks, Trial: rest / l.Chunks}
}

// ShardAt is the shard that computes the point's unit: the inverse of
// Unit, for dispatching the units a race or a precision target asks for.
func (l *Layout) ShardAt(point int, u paired.Unit) (int, error) {
	if point < 0 || point >= len(l.Points) || u.Block < 0 || u.Block >= l.Chunks || u.Trial < 0 || u.Trial >= l.Trials {
		return 0, fmt.Errorf("%w: point %d, block %d, trial %d is outside the layout's %d points, %d blocks, %d trials",
			ErrSpec, point, u.Block, u.Trial, len(l.Points), l.Chunks, l.Trials)
	}
	return l.position[point] + len(l.Points)*(u.Block+l.Chunks*u.Trial), nil
}

// Outcomes gathers the done shards' outcomes per grid point, in grid
// order: what the precision rule and the race decide on. summary gives
// shard k's committed summary, nil unless it is done.
func Outcomes(l *Layout, summary func(k int) *cfpb.Summary) ([]paired.Outcomes, error) {
	out := make([]paired.Outcomes, len(l.Points))
	for i := range out {
		out[i] = paired.Outcomes{}
	}
	for k := 0; k < l.Shards(); k++ {
		s := summary(k)
		if s == nil {
			continue
		}
		pt, u := l.Unit(k)
		if err := out[pt].Add(u, paired.Count{Images: s.GetImages(), Correct: s.GetCorrect()}); err != nil {
			return nil, fmt.Errorf("shard %d: %w", k, err)
		}
	}
	return out, nil
}
