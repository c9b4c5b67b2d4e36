package linalg

import "math"

// Max returns the largest element of x (len >= 1, no NaN).
func Max(x []float32) float32 {
	if hasAVX512 {
		return maxAVX512(&x[0], len(x))
	}
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// MaxAbs returns max |x| (0 for an empty x).
func MaxAbs(x []float32) float32 {
	if hasAVX512 && len(x) > 0 {
		return maxAbsAVX512(&x[0], len(x))
	}
	var m float32
	for _, v := range x {
		if a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31)); a > m {
			m = a
		}
	}
	return m
}

// Sum adds x in the canonical order: sixteen lanes, lane l adding x[l],
// x[l+16], ... in turn, then combined as l + (l+8), + (l+4), + (l+2),
// + (l+1). The AVX-512 version runs the same additions.
func Sum(x []float32) float32 {
	if hasAVX512 && len(x) > 0 {
		return sum16AVX512(&x[0], len(x))
	}
	return sum16Go(x)
}

func sum16Go(x []float32) float32 {
	var acc [16]float32
	for i, v := range x {
		acc[i&15] += v
	}
	for w := 8; w >= 1; w /= 2 {
		for l := 0; l < w; l++ {
			acc[l] += acc[l+w]
		}
	}
	return acc[0]
}

// Scale sets x[i] *= s.
func Scale(x []float32, s float32) {
	if hasAVX512 && len(x) > 0 {
		scaleAVX512(&x[0], len(x), s)
		return
	}
	for i := range x {
		x[i] *= s
	}
}

// Add sets dst[i] += x[i].
func Add(dst, x []float32) {
	x = x[:len(dst)]
	if hasAVX512 && len(dst) > 0 {
		addAVX512(&dst[0], &x[0], len(dst))
		return
	}
	for i := range dst {
		dst[i] += x[i]
	}
}

// RoundScale sets dst[i] = round(x[i] k) unit, rounding half to even; for
// |x[i] k| below 2^22.
func RoundScale(dst, x []float32, k, unit float32) {
	x = x[:len(dst)]
	if hasAVX512 && len(dst) > 0 {
		roundScaleAVX512(&dst[0], &x[0], len(dst), k, unit)
		return
	}
	roundScaleGo(dst, x, k, unit)
}

func roundScaleGo(dst, x []float32, k, unit float32) {
	// Adding and subtracting 1.5 * 2^23 rounds a float32 of magnitude below
	// 2^22 to an integer in the nearest-even mode.
	const magic = 12582912
	for i, v := range x {
		dst[i] = (float32(v*k+magic) - magic) * unit
	}
}
