package linalg

import "math"

// MatMul sets c = a b (or c += a b when accumulate is true), where a is m x k
// with row stride lda, b is k x n with row stride ldb and c is m x n with row
// stride ldc.
//
// Every element is accumulated in one canonical order, whatever m, n, the
// blocking or the machine: starting from 0 (or from c), s = fma(a[i,p],
// b[p,j], s) for p = 0, 1, ..., k-1, each a fused multiply-add rounded once
// to float32. A row's result therefore depends only on that row and b, never
// on how many rows are computed together, which is what makes results
// independent of batch size and sharding; and every kernel that keeps this
// order (the AVX-512 one, the AVX2 + FMA one, the pure-Go one with an exact float32 FMA) gives
// the same bits.
//
// Reference loop:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			s := c[i*ldc+j] (or 0)
//			for p := 0; p < k; p++ {
//				s = FMA32(a[i*lda+p], b[p*ldb+j], s)
//			}
//			c[i*ldc+j] = s
//		}
//	}
func MatMul(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	// Bounds are checked here once, since the assembly kernels cannot.
	_ = a[(m-1)*lda+k-1]
	_ = b[(k-1)*ldb+n-1]
	_ = c[(m-1)*ldc+n-1]
	switch Kernels() {
	case LevelAVX512:
		matMulAsm(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
	case LevelAVX2:
		matMulFMA(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
	default:
		matMulGo(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
	}
}

// matMulGo is MatMul in pure Go, 4 x 4 register blocks.
func matMulGo(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	i := 0
	for ; i+4 <= m; i += 4 {
		j := 0
		for ; j+4 <= n; j += 4 {
			block4x4(k, a[i*lda:], lda, b[j:], ldb, c[i*ldc+j:], ldc, accumulate)
		}
		for ; j < n; j++ {
			for r := i; r < i+4; r++ {
				c[r*ldc+j] = dot1(k, a[r*lda:], b[j:], ldb, c[r*ldc+j], accumulate)
			}
		}
	}
	for ; i < m; i++ {
		for j := 0; j < n; j++ {
			c[i*ldc+j] = dot1(k, a[i*lda:], b[j:], ldb, c[i*ldc+j], accumulate)
		}
	}
}

// dot1 is one element in the canonical order.
func dot1(k int, a, b []float32, ldb int, c0 float32, accumulate bool) float32 {
	var s float32
	if accumulate {
		s = c0
	}
	for p := 0; p < k; p++ {
		s = FMA32(a[p], b[p*ldb], s)
	}
	return s
}

// block4x4 computes a 4 x 4 block of c in the canonical order, holding the
// 16 accumulators in registers.
func block4x4(k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	if accumulate {
		c00, c01, c02, c03 = c[0], c[1], c[2], c[3]
		c10, c11, c12, c13 = c[ldc], c[ldc+1], c[ldc+2], c[ldc+3]
		c20, c21, c22, c23 = c[2*ldc], c[2*ldc+1], c[2*ldc+2], c[2*ldc+3]
		c30, c31, c32, c33 = c[3*ldc], c[3*ldc+1], c[3*ldc+2], c[3*ldc+3]
	}
	a0, a1, a2, a3 := a[:k], a[lda:lda+k], a[2*lda:2*lda+k], a[3*lda:3*lda+k]
	for p := 0; p < k; p++ {
		bp := b[p*ldb : p*ldb+4 : p*ldb+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		x := a0[p]
		c00 = FMA32(x, b0, c00)
		c01 = FMA32(x, b1, c01)
		c02 = FMA32(x, b2, c02)
		c03 = FMA32(x, b3, c03)
		x = a1[p]
		c10 = FMA32(x, b0, c10)
		c11 = FMA32(x, b1, c11)
		c12 = FMA32(x, b2, c12)
		c13 = FMA32(x, b3, c13)
		x = a2[p]
		c20 = FMA32(x, b0, c20)
		c21 = FMA32(x, b1, c21)
		c22 = FMA32(x, b2, c22)
		c23 = FMA32(x, b3, c23)
		x = a3[p]
		c30 = FMA32(x, b0, c30)
		c31 = FMA32(x, b1, c31)
		c32 = FMA32(x, b2, c32)
		c33 = FMA32(x, b3, c33)
	}
	c[0], c[1], c[2], c[3] = c00, c01, c02, c03
	c[ldc], c[ldc+1], c[ldc+2], c[ldc+3] = c10, c11, c12, c13
	c[2*ldc], c[2*ldc+1], c[2*ldc+2], c[2*ldc+3] = c20, c21, c22, c23
	c[3*ldc], c[3*ldc+1], c[3*ldc+2], c[3*ldc+3] = c30, c31, c32, c33
}

// Transpose writes the r x c matrix src (row stride lds) transposed into dst
// (c x r, row stride ldd).
func Transpose(dst []float32, ldd int, src []float32, lds, r, c int) {
	for i := 0; i < r; i++ {
		row := src[i*lds : i*lds+c]
		for j, v := range row {
			dst[j*ldd+i] = v
		}
	}
}

// matMulRef is MatMul's reference loop.
func matMulRef(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			if accumulate {
				s = c[i*ldc+j]
			}
			for p := 0; p < k; p++ {
				s = FMA32(a[i*lda+p], b[p*ldb+j], s)
			}
			c[i*ldc+j] = s
		}
	}
}

// FMA32 returns a*b + c rounded once to float32, as a hardware fused
// multiply-add does.
//
// a*b is exact in float64 (48 significant bits). The float64 sum r = a*b + c
// is rounded once, and rounding r again to float32 can differ from rounding
// the exact sum only when r falls exactly on the midpoint between two
// float32 values (any other float32 rounding boundary between r and the
// exact sum would be a float64 nearer to it than r). There the sign of the
// float64 rounding error, from Knuth's TwoSum, breaks the tie.
func FMA32(a, b, c float32) float32 {
	t := float64(a) * float64(b)
	cc := float64(c)
	r := t + cc
	// Fast path: for a result in float32's normal range, r is a midpoint
	// exactly when the 29 float64 mantissa bits float32 drops are 1000...0.
	bits := math.Float64bits(r)
	if e := bits >> 52 & 0x7ff; e > 1023-126 && e < 1023+127 && bits&(1<<29-1) != 1<<28 {
		return float32(r)
	}
	f := float32(r)
	if d := r - float64(f); d != 0 && !math.IsInf(float64(f), 0) {
		// The float32 neighbour of f on r's side; r is a midpoint if it
		// lies exactly halfway.
		g := math.Nextafter32(f, float32(math.Copysign(math.Inf(1), d)))
		if r == (float64(f)+float64(g))/2 {
			bb := r - t
			err := (t - (r - bb)) + (cc - bb)
			if err > 0 {
				return max32(f, g)
			}
			if err < 0 {
				return min32(f, g)
			}
		}
	}
	return f
}

func max32(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

func min32(a, b float32) float32 {
	if a < b {
		return a
	}
	return b
}
