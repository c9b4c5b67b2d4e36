package linalg

// Integer kernels (intgemm_amd64.s). kp is the number of row pairs (KPad/2),
// strides are in elements; lda = ldc = 0 computes one row four times into
// one place, which is how the row tails are done.

// dpwssd4x64 computes c[0:4, 0:64] of a 64-wide panel with AVX-512 VNNI,
// adding to c when acc is set.
//
//go:noescape
func dpwssd4x64(kp int, a *int16, lda int, b *int16, c *int32, ldc int, acc bool)

// dpwssd4x16 is dpwssd4x64 for a 16-wide panel.
//
//go:noescape
func dpwssd4x16(kp int, a *int16, lda int, b *int16, c *int32, ldc int, acc bool)

// pmaddwd4x16 computes c[0:4, 0:16] with AVX2; ldb is the panel's
// row-pair stride in elements (2 x its width).
//
//go:noescape
func pmaddwd4x16(kp int, a *int16, lda int, b *int16, ldb int, c *int32, ldc int)

//go:noescape
func scaleTileAVX512(dst *float32, ldd int, t *int32, rows, n int, ru *float64, cu *float64, perColumn bool)

//go:noescape
func scaleRowAVX2(dst *float32, c *int32, n int, ru float64, cu *float64, perColumn bool)

//go:noescape
func signedPairsAVX512(out *int16, even, odd *int32, signEven, signOdd *float32, n int)

//go:noescape
func roundInt16AVX512(dst *int16, x *float32, n int, k float32)

//go:noescape
func roundInt16AVX2(dst *int16, x *float32, n int, k float32)

// hasVNNI reports AVX512_VNNI (CPUID leaf 7, ECX bit 11); the OS state is
// what hasAVX512 checks.
var hasVNNI = func() bool {
	if maxID, _, _, _ := cpuidex(0, 0); maxID < 7 {
		return false
	}
	_, _, c7, _ := cpuidex(7, 0)
	return c7&(1<<11) != 0
}()

var (
	vnniIntKernels = intKernelSet{name: "avx512vnni", tiles: tilesVNNI, scaleTile: scaleTileZ, round: roundInt16Z, signedPairs: signedPairsZ}
	avx2IntKernels = intKernelSet{name: "avx2", tiles: tilesAVX2, scaleTile: scaleTileY, round: roundInt16Y, signedPairs: signedPairsGo}
)

// intKernels is the integer family for the kernel level chosen from
// KernelsEnv at start-up (cpu.go reports a bad value); tests swap it.
var intKernels = intKernelsAt(startLevel())

// intKernelsAt is the integer family for a kernel level on this CPU: VNNI
// at the AVX-512 level where the CPU has it, else the AVX2 one.
func intKernelsAt(l Level) intKernelSet {
	switch {
	case l == LevelAVX512 && hasVNNI:
		return vnniIntKernels
	case l >= LevelAVX2 && hasFMA:
		return avx2IntKernels
	}
	return genericIntKernels
}

// IntKernelsFor names the integer kernels that KernelsEnv set to v selects
// on this CPU, with the problem in v if any (as KernelsErr reports it).
func IntKernelsFor(v string) (string, error) {
	l, err := chooseLevel(v, bestLevel())
	return intKernelsAt(l).name, err
}

// The VNNI driver splits each panel into chunks of vnniChunk row pairs (64
// pairs x 64 columns x 4 bytes = 16 KB, which stays in the L1 cache) and
// runs a group of vnniGroup four-row blocks over each chunk before the next
// one; the exact sums add up across chunks in the group's tiles.
const (
	vnniChunk = 64
	vnniGroup = 8
)

func tilesVNNI(m int, a []int16, lda int, b *PackedInt16, emit tileEmitter) {
	kp := b.KPad / 2
	// The group's tiles, one after another: row r of the group at r*IntPanel.
	var group [vnniGroup * 4 * IntPanel]int32
	for j0 := 0; j0 < b.NPad; j0 += b.panelWidth(j0) {
		w := b.panelWidth(j0)
		kern := dpwssd4x64
		if w == IntTail {
			kern = dpwssd4x16
		}
		for i0 := 0; i0 < m; i0 += 4 * vnniGroup {
			for p0 := 0; p0 < kp; p0 += vnniChunk {
				n := min(vnniChunk, kp-p0)
				chunk := &b.Data[j0*b.KPad+p0*2*w]
				for i := i0; i < min(m, i0+4*vnniGroup); i += 4 {
					t := &group[(i-i0)*IntPanel]
					if i+4 <= m {
						kern(n, &a[i*lda+2*p0], lda, chunk, t, IntPanel, p0 > 0)
						continue
					}
					for r := 0; i+r < m; r++ { // the last rows, one at a time
						kern(n, &a[(i+r)*lda+2*p0], 0, chunk, &group[(i-i0+r)*IntPanel], 0, p0 > 0)
					}
				}
			}
			emit(i0, min(4*vnniGroup, m-i0), j0, w, group[:])
		}
	}
}

func tilesAVX2(m int, a []int16, lda int, b *PackedInt16, emit tileEmitter) {
	kp := b.KPad / 2
	var t intTile
	for j0 := 0; j0 < b.NPad; j0 += b.panelWidth(j0) {
		w := b.panelWidth(j0)
		panel := b.Data[j0*b.KPad:]
		i := 0
		for ; i+4 <= m; i += 4 {
			for jj := 0; jj < w; jj += IntTail {
				pmaddwd4x16(kp, &a[i*lda], lda, &panel[2*jj], 2*w, &t[jj], IntPanel)
			}
			emit(i, 4, j0, w, t[:])
		}
		for ; i < m; i++ {
			for jj := 0; jj < w; jj += IntTail {
				pmaddwd4x16(kp, &a[i*lda], 0, &panel[2*jj], 2*w, &t[jj], 0)
			}
			emit(i, 1, j0, w, t[:])
		}
	}
}

func scaleTileZ(dst []float32, ldd int, t []int32, rows, n int, ru, cu []float64) {
	_ = t[(rows-1)*IntPanel+n-1]
	scaleTileAVX512(&dst[0], ldd, &t[0], rows, n, &ru[0], &cu[0], len(cu) != 1)
}

func scaleTileY(dst []float32, ldd int, t []int32, rows, n int, ru, cu []float64) {
	for r := 0; r < rows; r++ {
		scaleRowAVX2(&dst[r*ldd], &t[r*IntPanel], n, ru[r], &cu[0], len(cu) != 1)
	}
}

func roundInt16Z(dst []int16, x []float32, k float32) { roundInt16AVX512(&dst[0], &x[0], len(dst), k) }

func roundInt16Y(dst []int16, x []float32, k float32) { roundInt16AVX2(&dst[0], &x[0], len(dst), k) }

// archIntKernels returns the named assembly family when this CPU runs it.
func archIntKernels(name string) (intKernelSet, bool) {
	switch name {
	case "avx512vnni":
		return vnniIntKernels, hasAVX512 && hasVNNI
	case "avx2":
		return avx2IntKernels, hasFMA
	}
	return intKernelSet{}, false
}

func signedPairsZ(out []int16, even, odd []int32, signEven, signOdd []float32) {
	_ = out[2*len(even)-1]
	signedPairsAVX512(&out[0], &even[0], &odd[0], &signEven[0], &signOdd[0], len(even))
}
