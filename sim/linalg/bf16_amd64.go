package linalg

// hasBF16 reports AVX512_BF16 (CPUID leaf 7 sub-leaf 1, EAX bit 5); the OS
// state is what hasAVX512 checks.
var hasBF16 = func() bool {
	if maxID, _, _, _ := cpuidex(0, 0); maxID < 7 || !hasAVX512 {
		return false
	}
	a, _, _, _ := cpuidex(7, 1)
	return a&(1<<5) != 0
}()

// VDPBF16PS kernels (bf16_amd64.s): tp row pairs of a panel of b (64
// bfloat16 per pair: 32 columns, two rows each) against 4 rows or 1 row of
// a (row stride lda bytes), into 32 columns of c (row stride ldc bytes),
// storing the columns whose mask bit is set.
//
//go:noescape
func dpbf4x32(tp int, a *uint16, lda int, b *uint16, c *float32, ldc int, mask uint32)

//go:noescape
func dpbf1x32(tp int, a *uint16, b *uint16, c *float32, mask uint32)

// matMulBF16Asm is MatMulBF16 with the VDPBF16PS kernels: for each panel,
// 4-row blocks, then single rows.
func matMulBF16Asm(m int, a []uint16, lda int, b *PackedBF16, c []float32, ldc int) {
	tp := b.KPad / 2
	for j := 0; j < b.N; j += BF16Panel {
		w := min(BF16Panel, b.N-j)
		mask := uint32(1)<<w - 1
		if w == BF16Panel {
			mask = 0xffffffff
		}
		panel := &b.Data[(j/BF16Panel)*b.KPad*BF16Panel]
		i := 0
		for ; i+4 <= m; i += 4 {
			dpbf4x32(tp, &a[i*lda], 2*lda, panel, &c[i*ldc+j], 4*ldc, mask)
		}
		for ; i < m; i++ {
			dpbf1x32(tp, &a[i*lda], panel, &c[i*ldc+j], mask)
		}
	}
}

// squaresBF16Kernel is squaresBF16Go in AVX2 (bf16_amd64.s) over n values,
// n a multiple of 16.
//
//go:noescape
func squaresBF16Kernel(dst *uint16, x *float32, n int)

// packPairsKernel sets dst[2j] = BF16(r0[j]) and dst[2j+1] = BF16(r1[j])
// for j < n, n a multiple of 8, in AVX2 (bf16_amd64.s).
//
//go:noescape
func packPairsKernel(dst *uint16, r0, r1 *float32, n int)
