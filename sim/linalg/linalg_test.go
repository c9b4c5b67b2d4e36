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
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {4, 32, 3}, {5, 33, 17}, {7, 31, 64}, {4, 16, 5}, {6, 15, 9}, {197, 197, 64}, {17, 384, 128}, {3, 70, 1}, {9, 100, 257}} {
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

// The AVX-512 exp and GELU run the same rounded float32 steps as the Go
// functions and give the same bits, edge cases included.
func TestVectorExpAndGELUGiveTheSameBits(t *testing.T) {
	if !hasAVX512 {
		t.Skip("this CPU lacks AVX-512, so the vector kernels cannot run here; the Go versions run in the other tests")
	}
	r := rand.New(rand.NewPCG(11, 12))
	var x []float32
	for i := 0; i < 100003; i++ {
		x = append(x, float32(r.NormFloat64()*float64([]float32{0.5, 3, 30, 100}[i%4])))
	}
	x = append(x, 0, -0, 88.7, 88.8, -87.3, -87.4, -200, 200, 4, -4, 1e-30, -1e-30)
	for _, n := range []int{len(x), 1, 15, 16, 17} {
		a := append([]float32(nil), x[:n]...)
		b := append([]float32(nil), x[:n]...)
		expShiftedAVX512(&a[0], n, 0.25, 1.5)
		expShiftedGo(b, 0.25, 1.5)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("exp of %v: AVX-512 %v, Go %v", x[i], a[i], b[i])
			}
		}
		a = append(a[:0], x[:n]...)
		b = append(b[:0], x[:n]...)
		geluAVX512(&a[0], n)
		geluGo(b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("GELU of %v: AVX-512 %v, Go %v", x[i], a[i], b[i])
			}
		}
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

// The AVX-512 reductions give the pure-Go versions' bits: Sum in its
// canonical lane order, Max and MaxAbs exactly, Scale and Add elementwise.
func TestVectorReductionsGiveTheSameBits(t *testing.T) {
	if !hasAVX512 {
		t.Skip("this CPU lacks AVX-512, so the vector kernels cannot run here; the Go versions run in the other tests")
	}
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1, 2, 15, 16, 17, 31, 33, 197, 1000} {
		x := randSlice(r, n)
		for i := range x {
			x[i] *= float32(math.Pow(10, float64(r.IntN(12)-6)))
		}
		if a, b := sum16AVX512(&x[0], n), sum16Go(x); math.Float32bits(a) != math.Float32bits(b) {
			t.Fatalf("n=%d: Sum AVX-512 %v, Go %v", n, a, b)
		}
		var m, ma float32 = float32(math.Inf(-1)), 0
		for _, v := range x {
			m = max(m, v)
			ma = max(ma, float32(math.Abs(float64(v))))
		}
		if got := maxAVX512(&x[0], n); got != m {
			t.Fatalf("n=%d: Max %v, want %v", n, got, m)
		}
		if got := maxAbsAVX512(&x[0], n); got != ma {
			t.Fatalf("n=%d: MaxAbs %v, want %v", n, got, ma)
		}
		y := randSlice(r, n)
		a := append([]float32(nil), x...)
		addAVX512(&a[0], &y[0], n)
		scaleAVX512(&a[0], n, 0.37)
		for i := range a {
			if want := (x[i] + y[i]) * 0.37; a[i] != want {
				t.Fatalf("n=%d: Add then Scale element %d = %v, want %v", n, i, a[i], want)
			}
		}
	}
	for _, n := range []int{1, 16, 17, 300} {
		x := randSlice(r, n)
		x[0] = 0.5 / 37 // an exact tie at k = 37 (within float32 rounding)
		a, b := make([]float32, n), make([]float32, n)
		roundScaleAVX512(&a[0], &x[0], n, 37, 0.25)
		roundScaleGo(b, x, 37, 0.25)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) || a[i] != float32(math.RoundToEven(float64(x[i]*37)))*0.25 {
				t.Fatalf("RoundScale of %v: AVX-512 %v, Go %v", x[i], a[i], b[i])
			}
		}
	}
	// Negative-only input: Max must not report a masked-off lane's value.
	neg := []float32{-5, -3, -4}
	if got := Max(neg); got != -3 {
		t.Fatalf("Max(%v) = %v", neg, got)
	}
}
