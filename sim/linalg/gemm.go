package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// MatMul sets c = a * b (or c += a * b when accumulate is true), where a is
// m x k with row stride lda, b is k x n with row stride ldb (or, when transB
// is true, b is n x k and b^T is used) and c is m x n with row stride ldc.
//
// Reference loop:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*lda+p] * B(p, j)
//			}
//			c[i*ldc+j] = s (+ c[i*ldc+j] when accumulating)
//		}
//	}
func MatMul(m, n, k int, a []float32, lda int, b []float32, ldb int, transB bool, c []float32, ldc int, accumulate bool) {
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
	tb := blas.NoTrans
	br, bc := k, n
	if transB {
		tb = blas.Trans
		br, bc = n, k
	}
	var beta float32
	if accumulate {
		beta = 1
	}
	blas32.Gemm(blas.NoTrans, tb, 1,
		blas32.General{Rows: m, Cols: k, Stride: lda, Data: a},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b},
		beta,
		blas32.General{Rows: m, Cols: n, Stride: ldc, Data: c})
}

// matMulRef is MatMul's reference loop, accumulating in float64.
func matMulRef(m, n, k int, a []float32, lda int, b []float32, ldb int, transB bool, c []float32, ldc int, accumulate bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var bv float32
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(a[i*lda+p]) * float64(bv)
			}
			if accumulate {
				s += float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(s)
		}
	}
}
