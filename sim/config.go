package sim

import (
	"errors"
	"fmt"
	"math"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

// ErrConfig marks an invalid evaluation setting.
var ErrConfig = errors.New("sim: invalid setting")

// Path selects how crossbar products are computed.
type Path string

// Execution paths.
const (
	// Fast collapses each crossbar product into one effective matrix; exact
	// in distribution for every option except an ADC.
	Fast Path = "fast"
	// Reference simulates every slice, polarity, row tile and input
	// bit-cycle explicitly; slow, and the only path with an ADC.
	Reference Path = "reference"
	// Auto is Fast unless the profile needs Reference.
	Auto Path = ""
)

// Setting is one grid point of a study, for one Monte-Carlo trial.
type Setting struct {
	Profile crossbar.Profile
	// Ideal runs the float32 model with no crossbar at all (no
	// quantisation, no noise); Profile and the rest are then ignored.
	Ideal bool
	Gamma float64             // write-noise factor on K and V
	Clip  crossbar.ClipFormer // the K/V transform, or off
	Path  Path
	Seed  uint64 // the sweep's base seed
	Trial int    // the Monte-Carlo trial
	// Prune prunes tokens EViT-style (applies to the ideal model too).
	Prune vit.Pruning
}

// Resolve validates s and returns the path it runs on, with a note when the
// choice was forced by the profile.
func (s *Setting) Resolve() (Path, string, error) {
	if s.Ideal {
		return Fast, "", nil
	}
	if err := s.Profile.Validate(); err != nil {
		return "", "", err
	}
	if err := s.Clip.Validate(&s.Profile); err != nil {
		return "", "", err
	}
	if !(s.Gamma >= 0) || math.IsInf(s.Gamma, 0) {
		return "", "", fmt.Errorf("%w: gamma %v must be a finite number >= 0", ErrConfig, s.Gamma)
	}
	if s.Trial < 0 {
		return "", "", fmt.Errorf("%w: trial %d must be >= 0", ErrConfig, s.Trial)
	}
	switch s.Path {
	case Auto:
		if s.Profile.ADCBits > 0 {
			return Reference, fmt.Sprintf("a %d-bit ADC needs the reference path", s.Profile.ADCBits), nil
		}
		return Fast, "", nil
	case Fast:
		if s.Profile.ADCBits > 0 {
			return "", "", fmt.Errorf("%w: the fast path cannot model a %d-bit ADC (adc_bits); use the reference path", ErrConfig, s.Profile.ADCBits)
		}
		return Fast, "", nil
	case Reference:
		return Reference, "", nil
	}
	return "", "", fmt.Errorf("%w: path %q is not fast or reference", ErrConfig, s.Path)
}
