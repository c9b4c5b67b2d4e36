package linalg

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// MatMul must give exactly the reference loop's bits, for any shape: the
// canonical accumulation order is what makes results batch-independent.
func TestMatMulBitIdenticalToReferenceLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {17, 384, 128}, {64, 17, 64}, {0, 3, 2}, {3, 4, 0}, {9, 13, 200}} {
		for _, acc := range []bool{false, true} {
			a := randSlice(r, tc.m*tc.k)
			b := randSlice(r, tc.k*tc.n)
			c0 := randSlice(r, tc.m*tc.n)
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			MatMul(tc.m, tc.n, tc.k, a, tc.k, b, tc.n, got, tc.n, acc)
			matMulRef(tc.m, tc.n, tc.k, a, tc.k, b, tc.n, want, tc.n, acc)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v acc=%v: c[%d] got %v want %v", tc, acc, i, got[i], want[i])
				}
			}
			// A row computed alone equals the same row computed in a batch.
			if tc.m > 1 && tc.k > 0 {
				row := make([]float32, tc.n)
				copy(row, c0[tc.n*(tc.m-1):])
				MatMul(1, tc.n, tc.k, a[(tc.m-1)*tc.k:], tc.k, b, tc.n, row, tc.n, acc)
				for j := range row {
					if row[j] != got[(tc.m-1)*tc.n+j] {
						t.Fatalf("%+v: last row alone differs at %d", tc, j)
					}
				}
			}
		}
	}
}

// The assembly kernels and the pure-Go kernel give the same bits, so a
// result does not depend on the machine that computed it.
func TestAssemblyAndGoKernelsGiveTheSameBits(t *testing.T) {
	kernels := []struct {
		name   string
		on     bool
		kernel func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool)
	}{{"AVX-512", hasAVX512, matMulAsm}, {"AVX2+FMA", hasFMA, matMulFMA}}
	for _, kc := range kernels {
		t.Run(kc.name, func(t *testing.T) {
			if !kc.on {
				t.Skipf("this CPU lacks %s, so that kernel cannot run here; the pure-Go kernel it would be compared with runs in the other tests", kc.name)
			}
			testKernelGivesGoBits(t, kc.kernel)
		})
	}
}

// testKernelGivesGoBits compares one assembly matmul kernel with matMulGo,
// bit for bit, on strided operands of awkward shapes.
func testKernelGivesGoBits(t *testing.T, kernel func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool)) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {4, 32, 3}, {5, 33, 17}, {7, 31, 64}, {4, 16, 5}, {6, 15, 9}, {197, 197, 64}, {17, 384, 128}, {3, 70, 1}, {9, 100, 257}, {6, 16, 5}, {12, 32, 7}, {11, 48, 3}, {18, 160, 40}, {23, 47, 12}} {
		for _, acc := range []bool{false, true} {
			// Strided operands: lda, ldb, ldc larger than the rows.
			lda, ldb, ldc := tc.k+3, tc.n+5, tc.n+7
			a := randSlice(r, tc.m*lda)
			b := randSlice(r, tc.k*ldb)
			c0 := randSlice(r, tc.m*ldc)
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			kernel(tc.m, tc.n, tc.k, a, lda, b, ldb, got, ldc, acc)
			matMulGo(tc.m, tc.n, tc.k, a, lda, b, ldb, want, ldc, acc)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v acc=%v: c[%d] assembly %v, Go %v (padding must stay untouched too)", tc, acc, i, got[i], want[i])
				}
			}
		}
	}
}

func TestTranspose(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6}
	dst := make([]float32, 6)
	Transpose(dst, 2, src, 3, 2, 3)
	want := []float32{1, 4, 2, 5, 3, 6}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("got %v want %v", dst, want)
		}
	}
}

func TestExp32MatchesMathExp(t *testing.T) {
	for x := float32(-87); x < 88; x += 0.01 {
		got, want := float64(Exp32(x)), math.Exp(float64(x))
		if rel := math.Abs(got-want) / want; rel > 3e-7 {
			t.Fatalf("Exp32(%v) = %v, want %v (relative error %g)", x, got, want, rel)
		}
	}
	if Exp32(-200) != 0 || !math.IsInf(float64(Exp32(200)), 1) {
		t.Fatalf("Exp32 out of range: got %v and %v", Exp32(-200), Exp32(200))
	}
}

func TestErf32MatchesMathErf(t *testing.T) {
	for x := float32(-6); x < 6; x += 0.001 {
		got, want := float64(Erf32(x)), math.Erf(float64(x))
		if d := math.Abs(got - want); d > 5e-7 {
			t.Fatalf("Erf32(%v) = %v, want %v (error %g)", x, got, want, d)
		}
	}
}

func TestLayerNormZeroMeanUnitVariance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 384
	x := randSlice(r, 2*n)
	w := make([]float32, n)
	b := make([]float32, n)
	for i := range w {
		w[i] = 1
	}
	LayerNorm(x, x, 2, n, w, b, 1e-6)
	for row := 0; row < 2; row++ {
		var m, v float64
		for _, e := range x[row*n : row*n+n] {
			m += float64(e)
		}
		m /= float64(n)
		for _, e := range x[row*n : row*n+n] {
			v += (float64(e) - m) * (float64(e) - m)
		}
		v /= float64(n)
		if math.Abs(m) > 1e-6 || math.Abs(v-1) > 1e-5 {
			t.Fatalf("row %d: mean %g variance %g, want 0 and 1", row, m, v)
		}
	}
}

func TestSoftmaxRowsSumToOne(t *testing.T) {
	x := []float32{1, 2, 3, 1000, 1000, -1000}
	SoftmaxRows(x, 2, 3, 0.5)
	for r := 0; r < 2; r++ {
		s := x[3*r] + x[3*r+1] + x[3*r+2]
		if math.Abs(float64(s)-1) > 1e-6 {
			t.Fatalf("row %d sums to %v", r, s)
		}
	}
	want := math.Exp(0.5) / (1 + math.Exp(0.5) + math.Exp(1))
	if math.Abs(float64(x[1])-want) > 1e-6 {
		t.Fatalf("softmax: got %v want %v", x[1], want)
	}
}

// vectorKernels are the assembly versions of the elementwise and reduction
// kernels, each with the CPU feature it needs.
var vectorKernels = []struct {
	name             string
	on               bool
	exp              func(x *float32, n int, mx, scale float32)
	gelu             func(x *float32, n int)
	max, maxAbs, sum func(x *float32, n int) float32
	scale            func(x *float32, n int, s float32)
	add              func(dst, x *float32, n int)
	roundScale       func(dst, x *float32, n int, k, unit float32)
}{
	{"AVX-512", hasAVX512, expShiftedAVX512, geluAVX512, maxAVX512, maxAbsAVX512, sum16AVX512, scaleAVX512, addAVX512, roundScaleAVX512},
	{"AVX2", hasFMA, expShiftedAVX2, geluAVX2, maxAVX2, maxAbsAVX2, sum16AVX2, scaleAVX2, addAVX2, roundScaleAVX2},
}

// sameBits reports whether a and b have the same bits, or are both NaN (a
// NaN's payload is not part of any result the simulator reports).
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// edgeValues are inputs at the edges of the kernels' ranges and of float32.
var edgeValues = []float32{0, float32(math.Copysign(0, -1)), 88.7, 88.8, -87.3, -87.4, -200, 200, 4, -4, 1e-30, -1e-30,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32, 1e-45, -1e-45}

// The vector exp and GELU run the same rounded float32 steps as the Go
// functions and give the same bits, edge cases and tails included.
func TestVectorExpAndGELUGiveTheSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var x []float32
	for i := 0; i < 100003; i++ {
		x = append(x, float32(r.NormFloat64()*float64([]float32{0.5, 3, 30, 100}[i%4])))
	}
	x = append(edgeValues, x...)
	for _, vk := range vectorKernels {
		t.Run(vk.name, func(t *testing.T) {
			if !vk.on {
				t.Skipf("this CPU lacks %s, so its kernels cannot run here; the Go versions run in the other tests", vk.name)
			}
			for _, n := range []int{len(x), 1, 7, 8, 9, 15, 16, 17, 19, 33} {
				a := append([]float32(nil), x[:n]...)
				b := append([]float32(nil), x[:n]...)
				vk.exp(&a[0], n, 0.25, 1.5)
				expShiftedGo(b, 0.25, 1.5)
				for i := range a {
					if !sameBits(a[i], b[i]) {
						t.Fatalf("n=%d: exp of %v: %s %v, Go %v", n, x[i], vk.name, a[i], b[i])
					}
				}
				a = append(a[:0], x[:n]...)
				b = append(b[:0], x[:n]...)
				vk.gelu(&a[0], n)
				geluGo(b)
				for i := range a {
					if !sameBits(a[i], b[i]) {
						t.Fatalf("n=%d: GELU of %v: %s %v, Go %v", n, x[i], vk.name, a[i], b[i])
					}
				}
			}
			// Elements past n stay untouched.
			buf := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
			vk.exp(&buf[0], 3, 0, 1)
			vk.gelu(&buf[3], 3)
			for i := 6; i < len(buf); i++ {
				if buf[i] != float32(i+1) {
					t.Fatalf("%s wrote past n: %v", vk.name, buf)
				}
			}
		})
	}
}

// FMA32 equals a*b + c computed exactly and rounded once to float32,
// including the double-rounding cases a float64 FMA alone gets wrong.
func TestFMA32RoundsOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	check := func(a, b, c float32) {
		if got, want := FMA32(a, b, c), exact(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
	for i := 0; i < 300000; i++ {
		a := float32(r.NormFloat64())
		b := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-20)))
		c := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(60)-30)))
		check(a, b, c)
	}
	// Results near and below float32's smallest normal, and near overflow.
	for i := 0; i < 100000; i++ {
		e := []int{-63, -70, -75, 63, 64}[i%5]
		a := float32(math.Ldexp(r.NormFloat64(), e))
		b := float32(math.Ldexp(r.NormFloat64(), e))
		c := float32(math.Ldexp(r.NormFloat64(), 2*e))
		check(a, b, c)
	}
	// Constructed double-rounding cases: with a = -2^-12 (1 + u 2^-23),
	// b = 2^-12 (1 - u 2^-23) and c = 1 + 2^-23, the exact sum is
	// 1 + 2^-24 + u^2 2^-70: just above the float32 midpoint 1 + 2^-24 by less
	// than half a float64 ulp, so rounding through float64 lands on the
	// midpoint and ties to the even 1.0, while the right answer is 1 + 2^-23.
	found := 0
	for u := 1; u < 2000; u++ {
		for _, sign := range []float32{1, -1} {
			a := sign * -float32(math.Ldexp(1+float64(u)*0x1p-23, -12))
			b := float32(math.Ldexp(1-float64(u)*0x1p-23, -12))
			c := sign * float32(1+0x1p-23)
			check(a, b, c)
			if float32(float64(a)*float64(b)+float64(c)) != exact(a, b, c) {
				found++
			}
		}
	}
	if found == 0 {
		t.Fatal("the constructed cases did not exercise double rounding")
	}
	t.Logf("%d cases where rounding through float64 alone is wrong, all handled", found)
}

// The vector reductions give the pure-Go versions' bits: Sum in its
// canonical lane order, Max and MaxAbs exactly (NaNs passed over, a zero
// maximum as +0), Scale, Add and RoundScale elementwise; on every length
// from 1 to 70 (every tail of both lane widths) and on edge values.
func TestVectorReductionsGiveTheSameBits(t *testing.T) {
	for _, vk := range vectorKernels {
		t.Run(vk.name, func(t *testing.T) {
			if !vk.on {
				t.Skipf("this CPU lacks %s, so its kernels cannot run here; the Go versions run in the other tests", vk.name)
			}
			testReductionsGiveGoBits(t, vk.name, vk.max, vk.maxAbs, vk.sum, vk.scale, vk.add, vk.roundScale)
		})
	}
}

func testReductionsGiveGoBits(t *testing.T, name string, maxF, maxAbsF, sumF func(x *float32, n int) float32,
	scaleF func(x *float32, n int, s float32), addF func(dst, x *float32, n int), roundScaleF func(dst, x *float32, n int, k, unit float32)) {
	r := rand.New(rand.NewPCG(31, 32))
	var inputs [][]float32
	for n := 1; n <= 70; n++ {
		inputs = append(inputs, randSlice(r, n))
	}
	for _, n := range []int{197, 1000} {
		inputs = append(inputs, randSlice(r, n))
	}
	for _, x := range inputs[:len(inputs):len(inputs)] {
		for i := range x {
			x[i] *= float32(math.Pow(10, float64(r.IntN(12)-6)))
		}
		// The same values with edge values spread through them.
		y := append([]float32(nil), x...)
		for i := range y {
			if r.IntN(4) == 0 {
				y[i] = edgeValues[r.IntN(len(edgeValues))]
			}
		}
		inputs = append(inputs, y)
	}
	// Zeros of both signs as the maximum, and nothing but NaN.
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	inputs = append(inputs, []float32{negZero}, []float32{negZero, 0, -1}, []float32{-3, 0, negZero, -5, negZero, -1, -2, -7, negZero},
		[]float32{-5, -3, -4}, []float32{nan, -2, nan}, []float32{nan})
	for _, x := range inputs {
		n := len(x)
		if a, b := sumF(&x[0], n), sum16Go(x); !sameBits(a, b) {
			t.Fatalf("n=%d: Sum %s %v, Go %v", n, name, a, b)
		}
		if a, b := maxF(&x[0], n), maxGo(x); !sameBits(a, b) {
			t.Fatalf("%v: Max %s %v, Go %v", x, name, a, b)
		}
		if a, b := maxAbsF(&x[0], n), maxAbsGo(x); !sameBits(a, b) {
			t.Fatalf("%v: MaxAbs %s %v, Go %v", x, name, a, b)
		}
		y := randSlice(r, n+1)
		a, b := append([]float32(nil), x...), append([]float32(nil), x...)
		a, b = append(a, 42), append(b, 42) // past n: must stay untouched
		addF(&a[0], &y[0], n)
		scaleF(&a[0], n, 0.37)
		addGo(b[:n], y)
		scaleGo(b[:n], 0.37)
		for i := range a {
			if !sameBits(a[i], b[i]) {
				t.Fatalf("n=%d: Add then Scale element %d: %s %v, Go %v", n, i, name, a[i], b[i])
			}
		}
	}
	for _, n := range []int{1, 7, 8, 9, 16, 17, 300} {
		x := randSlice(r, n)
		x[0] = 0.5 / 37 // an exact tie at k = 37 (within float32 rounding)
		if n > 1 {
			x[1] = -0.001 // rounds to -0, which both give as +0
		}
		a, b := make([]float32, n+1), make([]float32, n+1)
		a[n], b[n] = 42, 42 // past n: must stay untouched
		roundScaleF(&a[0], &x[0], n, 37, 0.25)
		roundScaleGo(b[:n], x, 37, 0.25)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) || (i < n && a[i] != float32(math.RoundToEven(float64(x[i]*37)))*0.25) {
				t.Fatalf("n=%d: RoundScale element %d: %s %v, Go %v", n, i, name, a[i], b[i])
			}
		}
	}
}
