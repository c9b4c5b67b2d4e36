package sweep

import (
	"fmt"
	"math/bits"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// namedSizes are the image counts of the named data sets, by split.
var namedSizes = map[string]map[string]int{
	"mnist":         {"test": 10000, "train": 60000},
	"fashion-mnist": {"test": 10000, "train": 60000},
}

// Images is the number of images a sweep evaluates.
func Images(d *cfpb.DatasetRef) (int, error) {
	if d == nil {
		return 0, fmt.Errorf("%w: dataset: required", ErrSpec)
	}
	if sizes, ok := namedSizes[d.Kind]; ok {
		n := sizes[d.Split]
		if d.Limit > 0 {
			n = min(n, int(d.Limit))
		}
		return n, nil
	}
	if d.Limit < 1 {
		return 0, fmt.Errorf("%w: dataset.limit: required for kind %s", ErrSpec, d.Kind)
	}
	return int(d.Limit), nil
}

// clipSettings lists the grid's ClipFormer settings: the explicit ones, then
// the product's ("off" first when included, then alpha-major).
func clipSettings(g *cfpb.Grid) []*cfpb.ClipSetting {
	out := append([]*cfpb.ClipSetting(nil), g.Clip...)
	if cp := g.ClipProduct; cp != nil {
		if cp.IncludeOff {
			out = append(out, &cfpb.ClipSetting{Off: true})
		}
		for _, a := range cp.Alpha {
			for _, b := range cp.Beta {
				out = append(out, &cfpb.ClipSetting{Alpha: a, Beta: b})
			}
		}
	}
	return out
}

// Points expands the grid in row-major order: device axes outermost (in
// their order), then sigma_w, sigma_r, gamma, and the ClipFormer setting
// fastest. An axis left empty takes the profile's value.
func Points(s *cfpb.SweepSpec) ([]*cfpb.Point, error) {
	base, err := BaseDevice(s.Profile)
	if err != nil {
		return nil, fmt.Errorf("%w: profile: %s", ErrSpec, profileReason(err))
	}
	g := s.Grid
	sr := g.SigmaR
	if len(sr) == 0 {
		sr = []float64{base.SigmaR}
	}
	// Without a sigma_w axis, a point takes its profile's effective sigma_w
	// once the device axes have set their values: the spec's sigma_w when it
	// names one, else the calibration of the point's own granularity.
	sigmaW := func(dev []string) []float64 {
		if len(g.SigmaW) > 0 {
			return g.SigmaW
		}
		p := base
		for i, v := range dev {
			// A value that does not decode leaves the field as it was;
			// Validate reports it.
			_ = SetDeviceField(&p, g.Device[i].Field, v)
		}
		return []float64{p.EffectiveSigmaW()}
	}
	clips := clipSettings(g)
	var points []*cfpb.Point
	var walk func(axis int, dev []string)
	walk = func(axis int, dev []string) {
		if axis < len(g.Device) {
			for _, v := range g.Device[axis].Values {
				walk(axis+1, append(dev[:axis:axis], v))
			}
			return
		}
		for _, w := range sigmaW(dev) {
			for _, r := range sr {
				for _, gm := range g.Gamma {
					for _, c := range clips {
						points = append(points, &cfpb.Point{Index: int32(len(points)), Gamma: gm,
							Clip:   &cfpb.ClipSetting{Off: c.Off, Alpha: c.Alpha, Beta: c.Beta},
							SigmaR: r, SigmaW: w, Device: append([]string(nil), dev...)})
					}
				}
			}
		}
	}
	walk(0, nil)
	if len(points) == 0 {
		return nil, fmt.Errorf("%w: grid: no points (every axis needs at least one value)", ErrSpec)
	}
	return points, nil
}

// Layout numbers a sweep's shards in dispatch order. Shard k is
// (trial, image range, point) with the trial slowest and the points
// interleaved by a bit-reversal permutation, so that the first shards
// done already cover the whole grid.
type Layout struct {
	Points []*cfpb.Point
	Trials int
	Images int
	Chunk  int   // images per shard
	Chunks int   // image ranges per (point, trial)
	order  []int // dispatch position -> point index
	// position is order's inverse: point index -> dispatch position.
	position []int
	// trialIndependent marks the points whose trials all give the same
	// bits (determinism.go).
	trialIndependent []bool
}

// NewLayout lays out a validated spec.
func NewLayout(s *cfpb.SweepSpec) (*Layout, error) {
	if s == nil || s.Grid == nil || s.Dataset == nil {
		return nil, fmt.Errorf("%w: spec, grid and dataset are required", ErrSpec)
	}
	points, err := Points(s)
	if err != nil {
		return nil, err
	}
	images, err := Images(s.Dataset)
	if err != nil {
		return nil, err
	}
	if images < 1 {
		return nil, fmt.Errorf("%w: dataset: no images", ErrSpec)
	}
	if s.ImagesPerShard < 1 || s.Trials < 1 {
		return nil, fmt.Errorf("%w: trials and images_per_shard must be >= 1", ErrSpec)
	}
	l := &Layout{Points: points, Trials: int(s.Trials), Images: images, Chunk: int(s.ImagesPerShard)}
	l.Chunks = (images + l.Chunk - 1) / l.Chunk
	l.order = bitReversalOrder(len(points))
	l.position = make([]int, len(points))
	for pos, pt := range l.order {
		l.position[pt] = pos
	}
	l.markTrialIndependent(s)
	return l, nil
}

// Shards is the number of shards.
func (l *Layout) Shards() int { return len(l.Points) * l.Trials * l.Chunks }

// Shard is what shard k computes.
func (l *Layout) Shard(sweepID string, k int) *cfpb.ShardWork {
	p := len(l.Points)
	pos, rest := k%p, k/p
	chunk, trial := rest%l.Chunks, rest/l.Chunks
	start := chunk * l.Chunk
	count := min(l.Chunk, l.Images-start)
	return &cfpb.ShardWork{SweepId: sweepID, Shard: int32(k), Trial: int32(trial), Start: int32(start),
		Count: int32(count), Point: l.Points[l.order[pos]]}
}

// bitReversalOrder is a permutation of 0..n-1 that visits the range evenly:
// indices in order of their bit-reversed value (van der Corput).
func bitReversalOrder(n int) []int {
	if n <= 1 {
		return make([]int, n)
	}
	w := bits.Len(uint(n - 1))
	out := make([]int, 0, n)
	for i := 0; i < 1<<w; i++ {
		r := int(bits.Reverse(uint(i)) >> (bits.UintSize - w))
		if r < n {
			out = append(out, r)
		}
	}
	return out
}
