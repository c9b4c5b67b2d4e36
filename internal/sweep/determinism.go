package sweep

import (
	"fmt"
	"slices"

	"github.com/clipformer/clipformer/internal/device"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// staticPlaces are the places of the static linears: programmed once per
// trial (sim/mapping.go), read per image.
var staticPlaces = []string{device.PlaceQKV, device.PlaceProj, device.PlaceFC1, device.PlaceFC2, device.PlacePatchEmbed, device.PlaceHead}

// TrialIndependent reports whether a point with profile p and write-noise
// factor gamma gives the same bits in every Monte-Carlo trial: whether no
// random draw of the simulator depends on the trial. The trial enters the
// simulator only through the keys of its random streams (sim/keyrand; the
// weight mapping's cache key names it only with programming noise on), and
// the simulator draws from those streams in exactly three cases:
//
//   - write noise of K^T and V (sim/ops.go, product): when
//     gamma * sigma_w > 0 and Q K^T or A V sits on crossbars;
//   - read noise (sim/ops.go, Linear and product; crossbar.Array.MVM on the
//     reference path): when sigma_r != 0 and anything sits on crossbars;
//   - programming noise of the static weights (sim/mapping.go): when
//     programming_gamma * sigma_w > 0 and a static linear sits on
//     crossbars.
//
// sigma_w is the effective one (device.Profile.EffectiveSigmaW), and the
// products are the simulator's own expressions, so that a product that
// underflows to 0 here does so there too. Everything else (quantisation,
// ClipFormer, the ADC, the static K/V scales calibrated on the ideal model)
// is a function of the point and the image alone.
//
// A coordinator computes only trial 0 of such a point and records the
// other trials as copies of it; TestTrialIndependentMatchesTheSimulator
// holds this rule to the simulator's bits.
func TrialIndependent(p *device.Profile, gamma float64) bool {
	anyStatic := false
	for _, place := range staticPlaces {
		anyStatic = anyStatic || p.On(place)
	}
	kv := p.On(device.PlaceQK) || p.On(device.PlaceAV)
	sigmaW := p.EffectiveSigmaW()
	writeNoise := kv && gamma*sigmaW > 0
	readNoise := (anyStatic || kv) && p.SigmaR != 0
	programmingNoise := anyStatic && p.ProgrammingGamma*sigmaW > 0
	return !writeNoise && !readNoise && !programmingNoise
}

// PointProfile is the device profile point p of spec s runs with: the
// spec's profile, the point's device-axis values, then its sigma_w and
// sigma_r, as the worker builds it for the simulator (internal/simspec).
func PointProfile(s *cfpb.SweepSpec, p *cfpb.Point) (device.Profile, error) {
	prof, err := BaseDevice(s.GetProfile())
	if err != nil {
		return prof, fmt.Errorf("%w: profile: %s", ErrSpec, profileReason(err))
	}
	for i, v := range p.GetDevice() {
		if i >= len(s.GetGrid().GetDevice()) {
			return prof, fmt.Errorf("%w: point %d has %d device values, the grid %d axes", ErrSpec, p.GetIndex(), len(p.Device), len(s.GetGrid().GetDevice()))
		}
		if err := SetDeviceField(&prof, s.Grid.Device[i].Field, v); err != nil {
			return prof, fmt.Errorf("%w: grid.device[%d]: %v", ErrSpec, i, err)
		}
	}
	prof.SigmaW, prof.SigmaR = device.Some(p.GetSigmaW()), p.GetSigmaR()
	return prof, nil
}

// markTrialIndependent sets l.trialIndependent from the spec: a point
// whose profile does not build is not trial-independent (Validate refuses
// its spec anyway). Device axes are outermost, so runs of points share
// their device values: each run's profile is built once.
func (l *Layout) markTrialIndependent(s *cfpb.SweepSpec) {
	l.trialIndependent = make([]bool, len(l.Points))
	var prof device.Profile
	var err error
	var dev []string
	for i, p := range l.Points {
		if i == 0 || !slices.Equal(dev, p.Device) {
			prof, err = PointProfile(s, p)
			dev = p.Device
		}
		pp := prof
		pp.SigmaW, pp.SigmaR = device.Some(p.GetSigmaW()), p.GetSigmaR()
		l.trialIndependent[i] = err == nil && TrialIndependent(&pp, p.GetGamma())
	}
}

// TrialIndependent reports whether grid point i gives the same bits in
// every trial (see the function TrialIndependent).
func (l *Layout) TrialIndependent(point int) bool { return l.trialIndependent[point] }

// CopyOf reports, for shard k of a trial-independent point in a trial
// after the first, the shard of trial 0 with the same point and image
// range, whose result k repeats bit for bit. It is always a lower shard
// number (the trial varies slowest).
func (l *Layout) CopyOf(k int) (source int, ok bool) {
	perTrial := len(l.Points) * l.Chunks
	if k < perTrial || k >= l.Shards() || !l.trialIndependent[l.order[k%len(l.Points)]] {
		return 0, false
	}
	return k % perTrial, true
}

// Copies counts the shards that CopyOf maps to a source, and their images.
func (l *Layout) Copies() (shards, images int64) {
	points := 0
	for _, ti := range l.trialIndependent {
		if ti {
			points++
		}
	}
	copiedTrials := int64(points) * int64(l.Trials-1)
	return copiedTrials * int64(l.Chunks), copiedTrials * int64(l.Images)
}
