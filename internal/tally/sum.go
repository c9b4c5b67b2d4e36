package tally

import (
	"math"
	"math/big"
	"math/bits"
)

// Sum is an order-independent sum of float64 values: each value is
// rounded once to a multiple of 2^-64 and added to a 128-bit two's-complement
// fixed-point accumulator, so that merging shard sums in any order gives the
// same bits as one pass over all images. Its range is +-2^63.
type Sum struct {
	Hi uint64 // upper 64 bits (integer part, two's complement)
	Lo uint64 // lower 64 bits (fraction)
}

// Add adds v. NaN and infinities are a programmer error upstream; they and
// values beyond the range are saturated so the sum stays defined.
func (s *Sum) Add(v float64) {
	s.Merge(fromFloat(v))
}

// Merge adds another sum.
func (s *Sum) Merge(o Sum) {
	var c uint64
	s.Lo, c = bits.Add64(s.Lo, o.Lo, 0)
	s.Hi, _ = bits.Add64(s.Hi, o.Hi, c)
}

// Float64 returns the sum rounded to the nearest float64.
func (s Sum) Float64() float64 {
	neg := int64(s.Hi) < 0
	hi, lo := s.Hi, s.Lo
	if neg {
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	// Exact value = (hi*2^64 + lo) * 2^-64; big.Float rounds once.
	f := new(big.Float).SetPrec(128).SetUint64(hi)
	f.SetMantExp(f, 64)
	f.Add(f, new(big.Float).SetPrec(128).SetUint64(lo))
	f.SetMantExp(f, -64)
	r, _ := f.Float64()
	if neg {
		r = -r
	}
	return r
}

func fromFloat(v float64) Sum {
	if math.IsNaN(v) {
		return Sum{}
	}
	neg := v < 0
	a := math.Abs(v)
	const limit = 9.2e18 // just under 2^63
	if a > limit {
		a = limit
	}
	// a * 2^64 as a 128-bit integer, rounded to nearest.
	frac, exp := math.Frexp(a) // a = frac * 2^exp, frac in [0.5, 1)
	mant := uint64(frac * (1 << 53))
	shift := exp - 53 + 64 // a*2^64 = mant * 2^shift
	var hi, lo uint64
	switch {
	case shift >= 64:
		hi = mant << (shift - 64)
	case shift >= 0:
		lo = mant << shift
		if shift > 0 {
			hi = mant >> (64 - shift)
		}
	case shift > -64:
		q := mant >> -shift
		if rem := mant & (1<<-shift - 1); rem > 1<<(-shift-1) || (rem == 1<<(-shift-1) && q&1 == 1) {
			q++
		}
		lo = q
	}
	if neg {
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	return Sum{Hi: hi, Lo: lo}
}
