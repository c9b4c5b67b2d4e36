//go:build !amd64

package linalg

// hasBF16: no VDPBF16PS kernel on this architecture.
const hasBF16 = false

func matMulBF16Asm(m int, a []uint16, lda int, b *PackedBF16, c []float32, ldc int) {
	panic("linalg: no bfloat16 kernel on this architecture")
}

func squaresBF16Kernel(dst *uint16, x *float32, n int) {
	panic("linalg: no bfloat16 squares kernel on this architecture")
}

func packPairsKernel(dst *uint16, r0, r1 *float32, n int) {
	panic("linalg: no bfloat16 packing kernel on this architecture")
}
