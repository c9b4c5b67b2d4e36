// Package simspec turns the sweep's plain data into the simulator's
// configuration and back: a planned point and trial into a sim.Setting, a
// spec's device profile into a crossbar.Profile, and a sim.Result into the
// shard summary the coordinator merges. The worker, the single-machine
// runner and the report use it; the coordinator does not, so that it never
// links the simulator.
package simspec

import (
	"fmt"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/internal/tally"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

// Profile is the simulator's default profile with the spec's fields set
// (sweep.BaseDevice: the coordinator plans with the same profile).
func Profile(d *cfpb.DeviceProfile) (crossbar.Profile, error) {
	return sweep.BaseDevice(d)
}

// Setting is the simulator setting of one planned point and trial.
func Setting(s *cfpb.SweepSpec, p *cfpb.Point, trial int) (sim.Setting, error) {
	prof, err := Profile(s.Profile)
	if err != nil {
		return sim.Setting{}, fmt.Errorf("%w: profile: %v", sweep.ErrSpec, err)
	}
	for i, v := range p.Device {
		if i >= len(s.Grid.Device) {
			return sim.Setting{}, fmt.Errorf("%w: point %d has %d device values, the grid %d axes", sweep.ErrSpec, p.Index, len(p.Device), len(s.Grid.Device))
		}
		if err := sweep.SetDeviceField(&prof, s.Grid.Device[i].Field, v); err != nil {
			return sim.Setting{}, fmt.Errorf("%w: grid.device[%d]: %v", sweep.ErrSpec, i, err)
		}
	}
	prof.SigmaW, prof.SigmaR = crossbar.Some(p.SigmaW), p.SigmaR
	if err := prof.Validate(); err != nil {
		return sim.Setting{}, fmt.Errorf("%w: point %d: %v", sweep.ErrSpec, p.Index, err)
	}
	st := sim.Setting{Profile: prof, Gamma: p.Gamma, Path: sim.Path(s.Path), Seed: s.Seed, Trial: trial, Prune: Pruning(s)}
	if c := p.Clip; c != nil && !c.Off {
		st.Clip = crossbar.ClipFormer{On: true, Alpha: c.Alpha, Beta: c.Beta}
	}
	if _, _, err := st.Resolve(); err != nil {
		return sim.Setting{}, fmt.Errorf("%w: point %d: %v", sweep.ErrSpec, p.Index, err)
	}
	return st, nil
}

// Pruning is the spec's token pruning as the simulator takes it.
func Pruning(s *cfpb.SweepSpec) vit.Pruning {
	pr := s.GetPruning()
	if pr == nil {
		return vit.Pruning{}
	}
	blocks := make([]int, len(pr.Blocks))
	for i, b := range pr.Blocks {
		blocks[i] = int(b)
	}
	return vit.Pruning{KeepRate: pr.KeepRate, Blocks: blocks, Fuse: pr.Fuse}
}

// Summarize turns a simulator result into a shard summary.
func Summarize(r *sim.Result) *cfpb.Summary {
	return sweep.SummaryOf(tally.Summary{Images: int64(r.Images), Correct: int64(r.Correct), Signal: r.Signal, Noise: r.Noise})
}

// Result turns a summary back into a simulator result (without predictions).
func Result(s *cfpb.Summary) *sim.Result {
	t := sweep.Tally(s)
	return &sim.Result{Images: int(t.Images), Correct: int(t.Correct), Signal: t.Signal, Noise: t.Noise}
}
