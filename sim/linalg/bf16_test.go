package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BF16 rounds to nearest with ties to even, and flushes what the kernels'
// subnormal rule could reach (and negatives, NaN) to zero.
func TestBF16RoundsToNearestEvenAndFlushes(t *testing.T) {
	for _, tc := range []struct {
		x    float32
		want uint16
	}{
		{1, 0x3f80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even below
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, even above
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.Float32frombits(0x3f807fff), 0x3f80}, // below the tie
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // rounds past the largest finite bfloat16
		{float32(math.Inf(1)), 0x7f80},
		{0x1p-63, 0x2000},
		{0x1p-64, 0},
		{-1, 0},
		{float32(math.NaN()), 0},
		{0, 0},
	} {
		if got := BF16(tc.x); got != tc.want {
			t.Errorf("BF16(%g = %#08x) = %#04x, want %#04x", tc.x, math.Float32bits(tc.x), got, tc.want)
		}
	}
}

// bf16Ref is MatMulBF16's reference loop on the widened operands.
func bf16Ref(m int, a []uint16, lda int, b *PackedBF16, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < b.N; j++ {
			var s float32
			for t := 0; t < b.KPad/2; t++ {
				s = FMA32(BF16Float32(a[i*lda+2*t+1]), b.at(2*t+1, j), s)
				s = FMA32(BF16Float32(a[i*lda+2*t]), b.at(2*t, j), s)
			}
			c[i*ldc+j] = s
		}
	}
}

// randVariances are nonnegative values over many binades, some zero, some
// below BF16's flush threshold.
func randVariances(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(20) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = 0x1p-70
		default:
			x[i] = float32(r.Float64() * math.Pow(2, float64(r.IntN(40)-20)))
		}
	}
	return x
}

// Every kernel level gives the reference loop's bits: the VDPBF16PS kernel
// where the CPU has it (the hardware's pairwise order), the float32 kernels
// on the widened, pair-swapped operands elsewhere; on odd k (a padded row
// pair), column tails and row tails.
func TestBF16KernelsGiveTheReferenceBits(t *testing.T) {
	if !hasBF16 {
		t.Log("this CPU lacks AVX512_BF16: only the float32 path is compared")
	}
	r := rand.New(rand.NewPCG(7, 11))
	var sc BF16Scratch
	for _, sz := range [][3]int{{1, 1, 1}, {4, 32, 2}, {5, 33, 3}, {9, 70, 64}, {13, 197, 64}, {6, 64, 197}, {3, 31, 384}} {
		m, n, k := sz[0], sz[1], sz[2]
		var b PackedBF16
		b.Pack(randVariances(r, k*n), k, n, n)
		lda := b.KPad + 3
		a := make([]uint16, m*lda)
		SquaresBF16(a, lda, randVariances(r, m*k), k, m, k, b.KPad)
		want := make([]float32, m*n)
		bf16Ref(m, a, lda, &b, want, n)
		for _, l := range Available() {
			restore, _ := UseKernels(l)
			got := make([]float32, m*n)
			MatMulBF16(m, a, lda, &b, got, n, &sc)
			restore()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%dx%d, level %s: element %d = %g (%#08x), reference %g (%#08x)", m, n, k, l,
						i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
}

// The bfloat16 product is within bfloat16's rounding of the float64 product
// of the unrounded operands: relative 2^-8 for each operand, plus the
// float32 sums.
func TestBF16ProductIsCloseToTheExactProduct(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	m, n, k := 7, 45, 197
	x := make([]float32, m*k)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	q := make([]float32, k*n)
	for i := range q {
		q[i] = float32(r.Float64() * 3)
	}
	var b PackedBF16
	b.Pack(q, k, n, n)
	a := make([]uint16, m*b.KPad)
	SquaresBF16(a, b.KPad, x, k, m, k, b.KPad)
	got := make([]float32, m*n)
	MatMulBF16(m, a, b.KPad, &b, got, n, &BF16Scratch{})
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(x[i*k+p]) * float64(x[i*k+p]) * float64(q[p*n+j])
			}
			if rel := math.Abs(float64(got[i*n+j])-s) / s; rel > 2*0x1p-8 {
				t.Errorf("element (%d, %d) = %g, exact %g: relative error %.2g", i, j, got[i*n+j], s, rel)
			}
		}
	}
}

// SquaresBF16 gives squaresBF16Go's bits on every kernel level, on row
// lengths with and without the kernel's blocks of 16 and their tails, and
// on values whose squares are zero, tiny (flushed), ties, huge (+Inf) or
// NaN.
func TestSquaresBF16KernelsGiveTheSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	special := []float32{0, 0x1p-40, 0x1p-31, 0x1p-32, 1e20, -3, float32(math.NaN()), float32(math.Inf(-1)),
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3fb50000)}
	for _, k := range []int{1, 15, 16, 17, 33, 64, 197, 384} {
		rows := 3
		x := make([]float32, rows*k)
		for i := range x {
			x[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(60)-30)))
			if r.IntN(4) == 0 {
				x[i] = special[r.IntN(len(special))]
			}
		}
		kpad := k + k%2
		want := make([]uint16, rows*kpad)
		for i := 0; i < rows; i++ {
			squaresBF16Go(want[i*kpad:i*kpad+k], x[i*k:(i+1)*k])
		}
		for _, l := range Available() {
			restore, _ := UseKernels(l)
			got := make([]uint16, rows*kpad)
			for i := range got {
				got[i] = 0xffff // the padding must be cleared
			}
			SquaresBF16(got, kpad, x, k, rows, k, kpad)
			restore()
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("k %d, level %s, element %d (x %g): %#04x, Go %#04x", k, l, i, x[min(i, len(x)-1)], got[i], want[i])
				}
			}
		}
	}
}

// Pack lays every element out where at reads it, with the same bits on
// every kernel level (the AVX2 pair kernel on blocks of 8 columns, Go on the
// rest): odd row counts, panel tails, a row stride wider than n, negative,
// tiny and NaN values.
func TestPackedBF16HoldsEveryElement(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	for _, sz := range [][2]int{{1, 1}, {2, 8}, {3, 33}, {64, 197}, {197, 64}, {5, 70}} {
		k, n := sz[0], sz[1]
		lds := n + 5
		src := make([]float32, k*lds)
		for i := range src {
			src[i] = float32(r.NormFloat64() * 100)
			switch r.IntN(10) {
			case 0:
				src[i] = 0x1p-70
			case 1:
				src[i] = float32(math.NaN())
			}
		}
		var want PackedBF16
		for li, l := range Available() {
			restore, _ := UseKernels(l)
			var b PackedBF16
			b.Data = make([]uint16, 1<<16)
			for i := range b.Data {
				b.Data[i] = 0xffff // stale contents must be overwritten
			}
			b.Pack(src, k, n, lds)
			restore()
			for p := 0; p < b.KPad; p++ {
				for j := 0; j < (n+BF16Panel-1)/BF16Panel*BF16Panel; j++ {
					var w uint16
					if p < k && j < n {
						w = BF16(src[p*lds+j])
					}
					if got := b.Data[(j/BF16Panel)*b.KPad*BF16Panel+(p/2)*2*BF16Panel+2*(j%BF16Panel)+p%2]; got != w {
						t.Fatalf("%dx%d, level %s: element (%d, %d) = %#04x, want %#04x", k, n, l, p, j, got, w)
					}
				}
			}
			if li == 0 {
				want = b
			} else if len(b.Data) != len(want.Data) {
				t.Fatalf("%dx%d, level %s: %d values, generic %d", k, n, l, len(b.Data), len(want.Data))
			}
		}
	}
}
