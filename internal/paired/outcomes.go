package paired

import (
	"errors"
	"fmt"
	"slices"
)

// ErrInput marks outcomes that cannot be compared; the message names the
// unit or the setting.
var ErrInput = errors.New("paired: invalid outcomes")

// maxImages bounds a setting's total images, so that the integer cluster
// sums of the variance (count x total) stay within int64.
const maxImages = 1 << 31

// Unit is one shard's place among a grid point's evaluations: the image
// block (the shard's image range, numbered from 0 in the sweep's layout)
// and the Monte-Carlo trial. Two settings evaluated on the same unit saw
// the same images with the same keyed random draws.
type Unit struct {
	Block, Trial int
}

// Count is one shard's outcome.
type Count struct {
	Images, Correct int64
}

// Outcomes are one setting's committed shard outcomes, by unit.
type Outcomes map[Unit]Count

// Add records unit u's outcome. The same outcome twice is accepted (a
// duplicate result); a different one for a unit already held is an error,
// as are counts that cannot be an outcome.
func (o Outcomes) Add(u Unit, c Count) error {
	if u.Block < 0 || u.Trial < 0 {
		return fmt.Errorf("%w: unit (block %d, trial %d): negative index", ErrInput, u.Block, u.Trial)
	}
	if c.Images < 1 || c.Correct < 0 || c.Correct > c.Images {
		return fmt.Errorf("%w: unit (block %d, trial %d): %d correct of %d images", ErrInput, u.Block, u.Trial, c.Correct, c.Images)
	}
	if old, ok := o[u]; ok && old != c {
		return fmt.Errorf("%w: unit (block %d, trial %d): two outcomes, %d/%d and %d/%d correct", ErrInput,
			u.Block, u.Trial, old.Correct, old.Images, c.Correct, c.Images)
	}
	o[u] = c
	return nil
}

// Units lists the units held, in canonical order (trial, then block).
func (o Outcomes) Units() []Unit {
	us := make([]Unit, 0, len(o))
	for u := range o {
		us = append(us, u)
	}
	SortUnits(us)
	return us
}

// SortUnits puts units in canonical order: trial, then block. Every sum
// over units runs in this order, whatever order the shards arrived in.
func SortUnits(us []Unit) {
	slices.SortFunc(us, compareUnits)
}

func compareUnits(a, b Unit) int {
	if a.Trial != b.Trial {
		return a.Trial - b.Trial
	}
	return a.Block - b.Block
}

// Shared lists, in canonical order, the units that every one of the
// settings holds.
func Shared(settings ...Outcomes) []Unit {
	if len(settings) == 0 {
		return nil
	}
	var out []Unit
	for _, u := range settings[0].Units() {
		if holdsAll(settings[1:], []Unit{u}) {
			out = append(out, u)
		}
	}
	return out
}

// holdsAll reports whether every setting holds every unit.
func holdsAll(settings []Outcomes, units []Unit) bool {
	for _, o := range settings {
		for _, u := range units {
			if _, ok := o[u]; !ok {
				return false
			}
		}
	}
	return true
}

// TrialMajor lists the units of blocks x trials trial by trial: every
// block of trial 0, then every block of trial 1, and so on. A race in this
// order is, until the images run out, a race over images for trial 0's
// noise draws: with one trial the variation between draws (the static
// weights are programmed once per trial) cannot be estimated.
func TrialMajor(blocks, trials int) []Unit {
	out := make([]Unit, 0, max(0, blocks*trials))
	for t := 0; t < trials; t++ {
		for b := 0; b < blocks; b++ {
			out = append(out, Unit{Block: b, Trial: t})
		}
	}
	return out
}

// BlockMajor lists the units of blocks x trials block by block: block 0 in
// every trial, then block 1 in every trial, and so on. With rounds of a
// multiple of trials units, every round counts both images and noise
// draws: the order for a race whose guarantee is over the draws too.
func BlockMajor(blocks, trials int) []Unit {
	out := make([]Unit, 0, max(0, blocks*trials))
	for b := 0; b < blocks; b++ {
		for t := 0; t < trials; t++ {
			out = append(out, Unit{Block: b, Trial: t})
		}
	}
	return out
}
