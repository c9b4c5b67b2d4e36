package linalg

import "math"

// LayerNorm normalises each of the rows of x (rows x n) to zero mean and unit
// variance with eps, then scales by w and shifts by b, writing to dst (which
// may alias x). Statistics are accumulated in float64, as a reference loop
// would.
func LayerNorm(dst, x []float32, rows, n int, w, b []float32, eps float64) {
	for r := 0; r < rows; r++ {
		row := x[r*n : r*n+n]
		var mean float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(n)
		var vr float64
		for _, v := range row {
			d := float64(v) - mean
			vr += d * d
		}
		vr /= float64(n)
		inv := float32(1 / math.Sqrt(vr+eps))
		m := float32(mean)
		out := dst[r*n : r*n+n]
		for j, v := range row {
			out[j] = (v-m)*inv*w[j] + b[j]
		}
	}
}

// SoftmaxRows replaces each row of x (rows x n) by its softmax after
// multiplying by scale: x[i,j] <- exp(s x[i,j] - max) / sum.
func SoftmaxRows(x []float32, rows, n int, scale float32) {
	for r := 0; r < rows; r++ {
		row := x[r*n : r*n+n]
		expShifted(row, Max(row), scale)
		Scale(row, 1/Sum(row))
	}
}

// GELU applies the exact (erf) GELU in place: x <- x/2 (1 + erf(x/sqrt 2)).
func GELU(x []float32) {
	if len(x) > 0 {
		switch Kernels() {
		case LevelAVX512:
			geluAVX512(&x[0], len(x))
			return
		case LevelAVX2:
			geluAVX2(&x[0], len(x))
			return
		}
	}
	geluGo(x)
}

func geluGo(x []float32) {
	const invSqrt2 = 0.70710678118654752440
	for i, v := range x {
		x[i] = float32(0.5*v) * (1 + Erf32(v*invSqrt2))
	}
}

// expShifted sets x[j] = Exp32((x[j] - mx) * scale).
func expShifted(x []float32, mx, scale float32) {
	if len(x) > 0 {
		switch Kernels() {
		case LevelAVX512:
			expShiftedAVX512(&x[0], len(x), mx, scale)
			return
		case LevelAVX2:
			expShiftedAVX2(&x[0], len(x), mx, scale)
			return
		}
	}
	expShiftedGo(x, mx, scale)
}

func expShiftedGo(x []float32, mx, scale float32) {
	for j, v := range x {
		x[j] = Exp32(float32(v-mx) * scale)
	}
}

// AddBias adds b (n) to every row of x (rows x n).
func AddBias(x []float32, rows, n int, b []float32) {
	if b == nil {
		return
	}
	for r := 0; r < rows; r++ {
		Add(x[r*n:r*n+n], b)
	}
}

// Exp32 is a float32 exp with a relative error below 2e-7 over the range
// where the result is a normal float32; it returns 0 below about -87.3 and
// +Inf above about 88.7. Reference: float32(math.Exp(float64(x))).
//
// Every step is an explicitly rounded float32 operation (the conversions stop
// the compiler from fusing multiply-adds), so the AVX-512 version, which runs
// the same steps, gives the same bits, as does the AVX2 one.
func Exp32(x float32) float32 {
	const (
		hi    = 88.7228
		lo    = -87.33654
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if x > hi {
		return float32(math.Inf(1))
	}
	if x < lo {
		return 0
	}
	// x = n ln2 + r, |r| <= ln2/2; exp(x) = 2^n exp(r).
	// floor by truncation and a correction (t is within +-130 here), which
	// inlines where math.Floor is a call.
	t := float32(x*log2e) + 0.5
	ni := int32(t)
	if float32(ni) > t {
		ni--
	}
	n := float32(ni)
	r := x - float32(n*ln2hi)
	r -= float32(n * ln2lo)
	// Cephes expf polynomial.
	p := float32(1.9875691500e-4)
	p = float32(p*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	e := float32(float32(float32(p*r)*r)+r) + 1
	return e * math.Float32frombits(uint32(ni+127)<<23)
}

// Erf32 is a float32 erf with an absolute error below 2e-7 (the rational
// approximation that Eigen and XLA use). Reference: math.Erf. Its steps are
// explicitly rounded float32 operations, as Exp32's.
func Erf32(x float32) float32 {
	if x > 4 {
		x = 4
	} else if x < -4 {
		x = -4
	}
	x2 := x * x
	p := float32(-2.72614225801306e-10)
	p = float32(p*x2) + 2.77068142495902e-08
	p = float32(p*x2) + -2.10102402082508e-06
	p = float32(p*x2) + -5.69250639462346e-05
	p = float32(p*x2) + -7.34990630326855e-04
	p = float32(p*x2) + -2.95459980854025e-03
	p = float32(p*x2) + -1.60960333262415e-02
	p *= x
	q := float32(-1.45660718464996e-05)
	q = float32(q*x2) + -2.13374055278905e-04
	q = float32(q*x2) + -1.68282697438203e-03
	q = float32(q*x2) + -7.37332916720468e-03
	q = float32(q*x2) + -1.42647390514189e-02
	return p / q
}
