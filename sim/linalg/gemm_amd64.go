package linalg

// AVX-512 kernels in the canonical order (gemm_amd64.s). Implemented in
// assembly; k must be at least 1.

//go:noescape
func kern4x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate bool, mask uint32)

//go:noescape
func kern1x32(k int, a *float32, b *float32, ldb int, c *float32, accumulate bool, mask uint32)

// AVX2 + FMA kernels, for CPUs without AVX-512; mask holds 16 lanes, -1
// for a column computed, 0 for one left alone; full says all 16 are.
//
//go:noescape
func kern4x16fma(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate, full bool, mask *int32)

//go:noescape
func kern1x16fma(k int, a *float32, b *float32, ldb int, c *float32, accumulate, full bool, mask *int32)

// kern6x16fma computes 6 rows x 16 columns, all 16 present: twelve
// accumulators keep enough FMAs in flight on cores whose FMA latency times
// throughput exceeds kern4x16fma's eight, and each b row loaded serves six
// rows instead of four.
//
//go:noescape
func kern6x16fma(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate bool)

func cpuidex(op, op2 uint32) (eax, ebx, ecx, edx uint32)
func xgetbv0() (eax, edx uint32)

// hasAVX512 reports AVX-512 F, DQ, BW and VL with the OS saving the ZMM and
// opmask state: every AVX-512 server CPU since Skylake-SP has these four.
var hasAVX512 = cpuHas(0, 0xe6, 1<<16|1<<17|1<<30|1<<31)

// hasFMA reports AVX2 and FMA with the OS saving the YMM state.
var hasFMA = cpuHas(1<<12, 0x6, 1<<5)

// cpuHas reports whether CPUID leaf 1 ECX has every bit of ecx1, the OS
// saves every state component of xcr0 (XGETBV; 0x6 XMM and YMM, 0xe6 adds
// the opmask and ZMM registers) and CPUID leaf 7 EBX has every bit of ebx7.
func cpuHas(ecx1, xcr0, ebx7 uint32) bool {
	maxID, _, _, _ := cpuidex(0, 0)
	if maxID < 7 {
		return false
	}
	const osxsave = 1 << 27
	_, _, c1, _ := cpuidex(1, 0)
	if c1&osxsave == 0 || c1&ecx1 != ecx1 {
		return false
	}
	if x, _ := xgetbv0(); x&xcr0 != xcr0 {
		return false
	}
	_, b7, _, _ := cpuidex(7, 0)
	return b7&ebx7 == ebx7
}

// fullMask16 selects all 16 columns of a panel.
var fullMask16 = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

// matMulFMA computes MatMul with the AVX2 + FMA kernels: 16-column panels
// (the last one masked), 6-row blocks on full panels, 4-row blocks, then
// single rows. Each element's sum runs in the canonical order whichever
// block computes it.
func matMulFMA(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	var tail [16]int32
	for j := 0; j < n; j += 16 {
		mask, full := &fullMask16, true
		if w := n - j; w < 16 {
			full = false
			for l := range tail {
				tail[l] = 0
				if l < w {
					tail[l] = -1
				}
			}
			mask = &tail
		}
		i := 0
		if full {
			for ; i+6 <= m; i += 6 {
				kern6x16fma(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, accumulate)
			}
		}
		for ; i+4 <= m; i += 4 {
			kern4x16fma(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, accumulate, full, &mask[0])
		}
		for ; i < m; i++ {
			kern1x16fma(k, &a[i*lda], &b[j], ldb, &c[i*ldc+j], accumulate, full, &mask[0])
		}
	}
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
