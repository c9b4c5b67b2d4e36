package linalg

// AVX-512 kernels in the canonical order (gemm_amd64.s). Implemented in
// assembly; k must be at least 1.

//go:noescape
func kern4x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate bool, mask uint32)

//go:noescape
func kern1x32(k int, a *float32, b *float32, ldb int, c *float32, accumulate bool, mask uint32)

func cpuidex(op, op2 uint32) (eax, ebx, ecx, edx uint32)
func xgetbv0() (eax, edx uint32)

// AVX512 reports whether this package's AVX-512 kernels run on this CPU,
// for other packages' kernels to follow the same choice.
func AVX512() bool { return hasAVX512 }

// hasAVX512 reports AVX-512 F, DQ, BW and VL with the OS saving the ZMM and
// opmask state.
var hasAVX512 = detectAVX512()

func detectAVX512() bool {
	maxID, _, _, _ := cpuidex(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuidex(1, 0)
	const osxsave = 1 << 27
	if ecx1&osxsave == 0 {
		return false
	}
	xcr0, _ := xgetbv0()
	// XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM state enabled by the OS.
	if xcr0&0xe6 != 0xe6 {
		return false
	}
	_, ebx7, _, _ := cpuidex(7, 0)
	// F, DQ, BW and VL: every AVX-512 server CPU since Skylake-SP has them.
	const need = 1<<16 | 1<<17 | 1<<30 | 1<<31
	return ebx7&need == need
}

// matMulAsm computes MatMul with the AVX-512 kernels: 32-column panels (the
// last one masked), 4-row blocks, then single rows.
func matMulAsm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	for j := 0; j < n; j += 32 {
		w := min(32, n-j)
		mask := uint32(1)<<w - 1
		if w == 32 {
			mask = 0xffffffff
		}
		i := 0
		for ; i+4 <= m; i += 4 {
			kern4x32(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, accumulate, mask)
		}
		for ; i < m; i++ {
			kern1x32(k, &a[i*lda], &b[j], ldb, &c[i*ldc+j], accumulate, mask)
		}
	}
}
