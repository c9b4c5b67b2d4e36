//go:build !amd64

package linalg

const (
	hasAVX512 = false
	hasFMA    = false
)

func matMulFMA(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	panic("linalg: no assembly kernels on this architecture")
}

func matMulAsm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	panic("linalg: no assembly kernels on this architecture")
}

func expShiftedAVX512(x *float32, n int, mx, scale float32) { panic("linalg: no assembly kernels") }

func geluAVX512(x *float32, n int) { panic("linalg: no assembly kernels") }

func maxAVX512(x *float32, n int) float32      { panic("linalg: no assembly kernels") }
func maxAbsAVX512(x *float32, n int) float32   { panic("linalg: no assembly kernels") }
func sum16AVX512(x *float32, n int) float32    { panic("linalg: no assembly kernels") }
func scaleAVX512(x *float32, n int, s float32) { panic("linalg: no assembly kernels") }
func addAVX512(dst, x *float32, n int)         { panic("linalg: no assembly kernels") }

func roundScaleAVX512(dst, x *float32, n int, k, unit float32) { panic("linalg: no assembly kernels") }

func expShiftedAVX2(x *float32, n int, mx, scale float32) { panic("linalg: no assembly kernels") }

func geluAVX2(x *float32, n int) { panic("linalg: no assembly kernels") }

func maxAVX2(x *float32, n int) float32      { panic("linalg: no assembly kernels") }
func maxAbsAVX2(x *float32, n int) float32   { panic("linalg: no assembly kernels") }
func sum16AVX2(x *float32, n int) float32    { panic("linalg: no assembly kernels") }
func scaleAVX2(x *float32, n int, s float32) { panic("linalg: no assembly kernels") }
func addAVX2(dst, x *float32, n int)         { panic("linalg: no assembly kernels") }

func roundScaleAVX2(dst, x *float32, n int, k, unit float32) { panic("linalg: no assembly kernels") }
