package crossbar

import (
	"fmt"
	"math"

	"github.com/clipformer/clipformer/internal/device"
)

// The device profile, its types and its rules live in package device, where
// the coordinator reads them without linking the simulator; these names
// keep the simulator's spelling of them.

// ErrProfile marks an invalid device profile or setting.
var ErrProfile = device.ErrProfile

// Profile is the device and array configuration (device.Profile).
type Profile = device.Profile

// Granularity says how write noise reaches a stored value.
type Granularity = device.Granularity

// ScaleMode says how the conductance scale of K and V is chosen.
type ScaleMode = device.ScaleMode

// WeightScale says how static weights are scaled to Gmax.
type WeightScale = device.WeightScale

// OptFloat is a float64 that may be unset (device.OptFloat).
type OptFloat = device.OptFloat

// Granularities, scale modes and weight scales.
const (
	PerSlice  = device.PerSlice
	PerValue  = device.PerValue
	Static    = device.Static
	Dynamic   = device.Dynamic
	PerLayer  = device.PerLayer
	PerColumn = device.PerColumn
)

// Places that can sit on crossbars, for Profile.OnCrossbar.
const (
	PlaceQKV        = device.PlaceQKV
	PlaceProj       = device.PlaceProj
	PlaceFC1        = device.PlaceFC1
	PlaceFC2        = device.PlaceFC2
	PlaceQK         = device.PlaceQK
	PlaceAV         = device.PlaceAV
	PlacePatchEmbed = device.PlacePatchEmbed
	PlaceHead       = device.PlaceHead
)

// AllPlaces lists every valid OnCrossbar entry.
var AllPlaces = device.AllPlaces

// Calibrated write-noise scales, one per noise granularity; see
// device.CalibratedSigmaWSlice.
const (
	CalibratedSigmaWSlice = device.CalibratedSigmaWSlice
	CalibratedSigmaWValue = device.CalibratedSigmaWValue
)

// Default returns the paper's ViT-X setup (crossbar-model.md section 2).
func Default() Profile { return device.Default() }

// Some returns a set OptFloat holding v.
func Some(v float64) OptFloat { return device.Some(v) }

// ClipFormer is the K/V shift-and-clip transform. The zero value is "off".
type ClipFormer struct {
	On    bool
	Alpha float64 // Stage I shift, in units of Gmin; >= 1
	Beta  float64 // Stage II clip, in units of Gmax; in [Gmin/Gmax, 1]
}

func (c ClipFormer) String() string {
	if !c.On {
		return "off"
	}
	return fmt.Sprintf("alpha=%g beta=%g", c.Alpha, c.Beta)
}

// Validate checks alpha and beta against the device.
func (c ClipFormer) Validate(p *Profile) error {
	if !c.On {
		return nil
	}
	if !(c.Alpha >= 1) || math.IsInf(c.Alpha, 0) {
		return fmt.Errorf("%w: clipformer alpha %v must be finite and >= 1", ErrProfile, c.Alpha)
	}
	if lo := p.Gmin / p.Gmax; !(c.Beta >= lo && c.Beta <= 1) {
		return fmt.Errorf("%w: clipformer beta %v must be in [Gmin/Gmax = %g, 1]", ErrProfile, c.Beta, lo)
	}
	return nil
}

// Transform applies ClipFormer to a full-precision conductance g (Stage I:
// g <- max(g - alpha Gmin, Gmin); Stage II: g <- min(g, beta Gmax)).
func (c ClipFormer) Transform(g float64, p *Profile) float64 {
	if !c.On {
		return g
	}
	g = max(g-c.Alpha*p.Gmin, p.Gmin)
	return min(g, c.Beta*p.Gmax)
}

// Code maps |x| with scale s on device p to its magnitude code: u = min(|x|/s, 1),
// g = Gmin + (Gmax-Gmin) u, ClipFormer on g, u = (g-Gmin)/(Gmax-Gmin), code =
// round(u (2^B-1)). s is not recomputed after the transform.
func (c ClipFormer) Code(p *Profile, x, s float64) int {
	cd := newCoder(p, s, c)
	return cd.code(x)
}

// coder is Code with everything that depends only on the scale and the
// transform hoisted out; both execution paths use it, so they always agree
// on every code.
//
// The float fields come first, in this order: codesAVX512 reads them by
// offset.
type coder struct {
	inv        float64 // 1/s
	gmin, span float64
	shift, cap float64 // ClipFormer: alpha Gmin and beta Gmax, in uS
	toCode     float64 // (2^B-1)/span
	zero       bool    // scale <= 0: every code is 0
	clip       bool
}

func newCoder(p *Profile, s float64, clip ClipFormer) coder {
	span := p.Gmax - p.Gmin
	return coder{zero: !(s > 0), inv: 1 / s, gmin: p.Gmin, span: span, shift: clip.Alpha * p.Gmin, cap: clip.Beta * p.Gmax,
		clip: clip.On, toCode: float64(p.MaxCode()) / span}
}

func (c *coder) code(x float64) int {
	if c.zero {
		return 0
	}
	// Explicit conversions round every step, so no multiply-add is fused and
	// the vector version (codesAVX512) gives the same codes.
	u := minPos(float64(math.Abs(x)*c.inv), 1)
	g := c.gmin + float64(c.span*u)
	if c.clip {
		g = minPos(maxPos(g-c.shift, c.gmin), c.cap)
	}
	// round half away from zero, as math.Round, for the non-negative value
	return int(float64((g-c.gmin)*c.toCode) + 0.5)
}

func (c *coder) codesGo(dst []int32, src []float32) {
	for i, x := range src {
		dst[i] = int32(c.code(float64(x)))
	}
}

// MaxCode is the largest code any value can reach on device p under c.
func (c ClipFormer) MaxCode(p *Profile) int { return c.Code(p, 1, 1) }

// minPos and maxPos are min and max for b > 0 and a not NaN, without
// branches: the IEEE bit patterns of non-negative floats order as integers,
// and a negative a orders below any positive b as a signed integer too. Data-
// dependent branches here mispredict on about every other value.
func minPos(a, b float64) float64 {
	return math.Float64frombits(uint64(min(int64(math.Float64bits(a)), int64(math.Float64bits(b)))))
}

func maxPos(a, b float64) float64 {
	return math.Float64frombits(uint64(max(int64(math.Float64bits(a)), int64(math.Float64bits(b)))))
}
