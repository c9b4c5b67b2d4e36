//go:build !amd64

package linalg

const hasAVX512 = false

func matMulAsm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	panic("linalg: no assembly kernels on this architecture")
}
