package linalg

import "math"

// bfloat16 products for variances. A read-noise standard deviation needs
// far less than float32's precision, so its variance product may run on
// bfloat16 operands (8 significant bits) with float32 sums: AVX512_BF16's
// VDPBF16PS does twice the multiply-adds of a float32 FMA per instruction.
//
// The hardware sums one pair of products at a time, the odd one first:
//
//	s = s + a[2t+1] b[2t+1]  (rounded to float32)
//	s = s + a[2t] b[2t]      (rounded to float32)
//
// for t = 0, 1, ..., KPad/2 - 1. A product of two bfloat16 values is exact
// in float32, so each step is one rounded float32 FMA, and the float32
// kernels (AVX-512, AVX2 + FMA, pure Go) compute the same bits on the
// widened operands with each pair swapped: that is this package's twin of
// the assembly kernel, for CPUs without AVX512_BF16. VDPBF16PS also
// flushes subnormal inputs and results to zero, which FMA does not; BF16
// keeps every operand nonnegative and flushes values below 2^-63 to zero,
// so that no product and no sum of products is subnormal and the rule never
// applies.

// bf16Min is the smallest operand BF16 keeps: products of two such values
// are at least 2^-126, float32's smallest normal.
const bf16Min = 0x1p-63

// BF16 rounds a nonnegative x to bfloat16 (to nearest, ties to even), as
// the upper 16 bits of a float32. Values below 2^-63, negative values and
// NaN give 0; values beyond bfloat16's range give +Inf.
func BF16(x float32) uint16 {
	if !(x >= bf16Min) { // negative, tiny or NaN
		return 0
	}
	b := math.Float32bits(x)
	if b >= 0x7f800000 {
		return 0x7f80
	}
	return uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}

// BF16Float32 widens a bfloat16 value to float32, exactly.
func BF16Float32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// BF16Panel is the column width of PackedBF16's panels.
const BF16Panel = 32

// PackedBF16 is a k x n matrix of nonnegative values rounded to bfloat16,
// laid out for MatMulBF16: rows in pairs (k padded to KPad, even, with a
// zero row), columns in panels of BF16Panel (the last padded with zero
// columns). Element (p, j) sits at
//
//	(j/32)*KPad*32 + (p/2)*64 + 2*(j%32) + p%2.
type PackedBF16 struct {
	K, KPad, N int
	Data       []uint16
}

// Pack sets b to the k x n matrix src (row stride lds), each value through
// BF16, reusing b's storage where it is large enough.
func (b *PackedBF16) Pack(src []float32, k, n, lds int) {
	b.K, b.KPad, b.N = k, k+k%2, n
	panels := (n + BF16Panel - 1) / BF16Panel
	size := panels * b.KPad * BF16Panel
	if cap(b.Data) < size {
		b.Data = make([]uint16, size)
	}
	b.Data = b.Data[:size]
	vec := Kernels() >= LevelAVX2
	for p := 0; p < panels; p++ {
		panel := b.Data[p*b.KPad*BF16Panel : (p+1)*b.KPad*BF16Panel]
		j0, w := p*BF16Panel, min(BF16Panel, n-p*BF16Panel)
		for r := 0; r < b.KPad; r += 2 {
			out := panel[r*BF16Panel : (r+2)*BF16Panel]
			done := 0
			if vec && r+1 < k && w >= 8 {
				done = w &^ 7
				packPairsKernel(&out[0], &src[r*lds+j0], &src[(r+1)*lds+j0], done)
			}
			packPairsGo(out, src, r, k, lds, j0, done, w)
		}
	}
}

// packPairsGo sets columns from..31 of the row pair (r, r+1) of a panel
// starting at column j0 of width w: out[2j+e] = BF16(src[r+e, j0+j]),
// zero past row k or column w.
func packPairsGo(out []uint16, src []float32, r, k, lds, j0, from, w int) {
	for e := 0; e < 2; e++ {
		for j := from; j < BF16Panel; j++ {
			var h uint16
			if r+e < k && j < w {
				h = BF16(src[(r+e)*lds+j0+j])
			}
			out[2*j+e] = h
		}
	}
}

// at is element (p, j) of b, widened.
func (b *PackedBF16) at(p, j int) float32 {
	return BF16Float32(b.Data[(j/BF16Panel)*b.KPad*BF16Panel+(p/2)*2*BF16Panel+2*(j%BF16Panel)+p%2])
}

// SquaresBF16 sets row i of dst (rows x kpad, row stride ldd) to the
// squares of row i of x (rows x k, row stride ldx), each rounded to float32
// and then through BF16, and the columns from k to kpad to 0.
func SquaresBF16(dst []uint16, ldd int, x []float32, ldx, rows, k, kpad int) {
	vec := Kernels() >= LevelAVX2
	for i := 0; i < rows; i++ {
		out := dst[i*ldd : i*ldd+kpad]
		row := x[i*ldx : i*ldx+k]
		done := 0
		if vec && k >= 16 {
			done = k &^ 15
			squaresBF16Kernel(&out[0], &row[0], done)
		}
		squaresBF16Go(out[done:k], row[done:])
		clear(out[k:])
	}
}

// squaresBF16Go sets dst[p] = BF16(x[p] x[p]).
func squaresBF16Go(dst []uint16, x []float32) {
	for p, v := range x {
		dst[p] = BF16(v * v)
	}
}

// BF16Scratch holds the widened operands of MatMulBF16's float32 path; the
// zero value is ready to use, and one serves one goroutine.
type BF16Scratch struct{ a, b []float32 }

// MatMulBF16 sets c (m x b.N, row stride ldc) to a b, where a is m x b.KPad
// bfloat16 values with row stride lda (nonnegative, as BF16 gives them), in
// the pairwise order above. With AVX512_BF16 at the AVX-512 kernel level it
// runs VDPBF16PS; otherwise the float32 MatMul on the widened operands, the
// pairs swapped, which gives the same bits.
//
// Reference loop:
//
//	for i, j: s := 0
//		for t := 0; t < b.KPad/2; t++ {
//			s = FMA32(a[i, 2t+1], b[2t+1, j], s)
//			s = FMA32(a[i, 2t], b[2t, j], s)
//		}
//		c[i*ldc+j] = s
func MatMulBF16(m int, a []uint16, lda int, b *PackedBF16, c []float32, ldc int, sc *BF16Scratch) {
	if m == 0 || b.N == 0 {
		return
	}
	_ = a[(m-1)*lda+b.KPad-1]
	_ = c[(m-1)*ldc+b.N-1]
	if b.KPad == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+b.N])
		}
		return
	}
	if Kernels() == LevelAVX512 && hasBF16 {
		matMulBF16Asm(m, a, lda, b, c, ldc)
		return
	}
	matMulBF16Float(m, a, lda, b, c, ldc, sc)
}

// matMulBF16Float is MatMulBF16 through the float32 MatMul: a and b widened,
// each pair of a's columns and of b's rows swapped.
func matMulBF16Float(m int, a []uint16, lda int, b *PackedBF16, c []float32, ldc int, sc *BF16Scratch) {
	kp, n := b.KPad, b.N
	sc.a = growF32(sc.a, m*kp)
	sc.b = growF32(sc.b, kp*n)
	for i := 0; i < m; i++ {
		row, out := a[i*lda:i*lda+kp], sc.a[i*kp:(i+1)*kp]
		for p := 0; p < kp; p += 2 {
			out[p], out[p+1] = BF16Float32(row[p+1]), BF16Float32(row[p])
		}
	}
	for p := 0; p < kp; p++ {
		out := sc.b[(p^1)*n : (p^1+1)*n]
		for j := range out {
			out[j] = b.at(p, j)
		}
	}
	MatMul(m, n, kp, sc.a, kp, sc.b, n, c, ldc, false)
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
