package linalg

import "math"

// Max returns the largest element of x (len >= 1), passing over NaNs (-Inf
// when x holds nothing else); a zero maximum is returned as +0, whichever
// zeros x holds, so that every kernel gives the same bits.
func Max(x []float32) float32 {
	switch Kernels() {
	case LevelAVX512:
		return maxAVX512(&x[0], len(x))
	case LevelAVX2:
		return maxAVX2(&x[0], len(x))
	}
	return maxGo(x)
}

func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if m == 0 {
		return 0
	}
	return m
}

// MaxAbs returns max |x| (0 for an empty x), passing over NaNs.
func MaxAbs(x []float32) float32 {
	if len(x) > 0 {
		switch Kernels() {
		case LevelAVX512:
			return maxAbsAVX512(&x[0], len(x))
		case LevelAVX2:
			return maxAbsAVX2(&x[0], len(x))
		}
	}
	return maxAbsGo(x)
}

func maxAbsGo(x []float32) float32 {
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
// + (l+1). The AVX-512 and AVX2 versions run the same additions.
func Sum(x []float32) float32 {
	if len(x) > 0 {
		switch Kernels() {
		case LevelAVX512:
			return sum16AVX512(&x[0], len(x))
		case LevelAVX2:
			return sum16AVX2(&x[0], len(x))
		}
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
	if len(x) > 0 {
		switch Kernels() {
		case LevelAVX512:
			scaleAVX512(&x[0], len(x), s)
			return
		case LevelAVX2:
			scaleAVX2(&x[0], len(x), s)
			return
		}
	}
	scaleGo(x, s)
}

func scaleGo(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// Add sets dst[i] += x[i].
func Add(dst, x []float32) {
	x = x[:len(dst)]
	if len(dst) > 0 {
		switch Kernels() {
		case LevelAVX512:
			addAVX512(&dst[0], &x[0], len(dst))
			return
		case LevelAVX2:
			addAVX2(&dst[0], &x[0], len(dst))
			return
		}
	}
	addGo(dst, x)
}

func addGo(dst, x []float32) {
	for i := range dst {
		dst[i] += x[i]
	}
}

// RoundScale sets dst[i] = round(x[i] k) unit, rounding half to even; for
// |x[i] k| below 2^22.
func RoundScale(dst, x []float32, k, unit float32) {
	x = x[:len(dst)]
	if len(dst) > 0 {
		switch Kernels() {
		case LevelAVX512:
			roundScaleAVX512(&dst[0], &x[0], len(dst), k, unit)
			return
		case LevelAVX2:
			roundScaleAVX2(&dst[0], &x[0], len(dst), k, unit)
			return
		}
	}
	roundScaleGo(dst, x, k, unit)
}

func roundScaleGo(dst, x []float32, k, unit float32) {
	// Adding and subtracting 1.5 * 2^23 rounds a float32 of magnitude below
	// 2^22 to an integer in the nearest-even mode.
	const magic = 12582912
	for i, v := range x {
		// float32(v*k) stops the compiler from fusing v*k + magic into
		// one FMA (as it may on arm64), which the vector kernels do not.
		dst[i] = (float32(float32(v*k)+magic) - magic) * unit
	}
}
