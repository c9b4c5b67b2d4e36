package linalg

import (
	"fmt"
	"math"
)

// Integer matrix products. A crossbar multiplies integer input codes by
// integer conductance codes; where both are exact integers, their product
// is computed here in int32, which is exact, so the order of summation does
// not matter: the kernels tile and split freely and every kernel (AVX-512
// VNNI, AVX2, pure Go) gives the same bits by construction.

// IntPanel is the column width of the packed layout's wide panels; the last
// columns sit in panels of IntTail.
const (
	IntPanel = 64
	IntTail  = 16
)

// PackedInt16 is a k x n matrix of int16 codes laid out for MatMulInt16.
//
// Rows are taken in pairs (k padded to KPad, even, with a zero row) and
// columns in panels (n padded to NPad, a multiple of IntTail, with zero
// columns): IntPanel-wide panels while at least IntPanel columns remain,
// then IntTail-wide ones. A panel starting at column j0 of width w holds,
// for each row pair p/2, for each of its w columns, the two codes of rows p
// and p+1 side by side: element (p, j) sits at
//
//	j0*KPad + (p/2)*2*w + 2*(j-j0) + p%2.
//
// Each 32-bit word thus holds the two codes that VPDPWSSD and VPMADDWD
// multiply by one pair of input codes.
type PackedInt16 struct {
	K, N, KPad, NPad int
	Data             []int16
	MaxAbs           int // a bound on |code| stored (Pack: the largest), for overflow checks
}

// Reset shapes p for a k x n matrix, reusing its storage, and zeroes it.
func (p *PackedInt16) Reset(k, n int) {
	p.K, p.N = k, n
	p.KPad = k + k%2
	p.NPad = (n + IntTail - 1) / IntTail * IntTail
	size := p.KPad * p.NPad
	if cap(p.Data) < size {
		p.Data = make([]int16, size)
	} else {
		p.Data = p.Data[:size]
		clear(p.Data)
	}
	p.MaxAbs = 0
}

// panelWidth is the width of the panel that starts at column j0.
func (p *PackedInt16) panelWidth(j0 int) int {
	if p.NPad-j0 >= IntPanel {
		return IntPanel
	}
	return IntTail
}

// Pack sets p to the k x n row-major matrix src (row stride lds).
func (p *PackedInt16) Pack(src []int16, lds, k, n int) {
	p.Reset(k, n)
	mx := 0
	for r := 0; r < k; r++ {
		for _, v := range src[r*lds : r*lds+n] {
			mx = max(mx, abs(int(v)))
		}
	}
	p.MaxAbs = mx
	for j0 := 0; j0 < n; j0 += p.panelWidth(j0) {
		w := p.panelWidth(j0)
		cols := min(w, n-j0)
		panel := p.Data[j0*p.KPad:]
		for r := 0; r < k; r += 2 {
			out := panel[r*w : r*w+2*cols]
			even := src[r*lds+j0 : r*lds+j0+cols]
			if r+1 == k { // the odd last row; its partner stays 0
				for j, v := range even {
					out[2*j] = v
				}
				continue
			}
			odd := src[(r+1)*lds+j0 : (r+1)*lds+j0+cols]
			for j, v := range even {
				out[2*j], out[2*j+1] = v, odd[j]
			}
		}
	}
}

// SetRow writes codes to row r, columns j to j+len(codes)-1, of a matrix
// shaped by Reset, and raises MaxAbs to cover them.
func (p *PackedInt16) SetRow(r, j int, codes []int16) {
	mx := p.MaxAbs
	for len(codes) > 0 {
		j0 := p.panelStart(j)
		w := p.panelWidth(j0)
		n := min(len(codes), j0+w-j)
		out := p.Data[j0*p.KPad+(r/2)*2*w+r%2+2*(j-j0):]
		out = out[:2*n-1]
		for i, v := range codes[:n] {
			out[2*i] = v
			a := int(v)
			mx = max(mx, a, -a)
		}
		codes, j = codes[n:], j+n
	}
	p.MaxAbs = mx
}

// panelStart is the first column of the panel that holds column j.
func (p *PackedInt16) panelStart(j int) int {
	wide := p.NPad / IntPanel * IntPanel // columns in IntPanel-wide panels
	if j < wide {
		return j / IntPanel * IntPanel
	}
	return wide + (j-wide)/IntTail*IntTail
}

// SetSignedPairs writes rows r and r+1 (r even), columns j to
// j+len(even)-1: the magnitudes even and odd with the signs of signEven and
// signOdd (negated where the sign bit is set), odd being nil for the last
// row of an odd count. bound must cover every magnitude; MaxAbs is raised
// to it.
func (p *PackedInt16) SetSignedPairs(r, j int, even, odd []int32, signEven, signOdd []float32, bound int) {
	n := len(even)
	signEven = signEven[:n]
	if odd != nil {
		odd, signOdd = odd[:n], signOdd[:n]
	}
	for k := 0; k < n; {
		j0 := p.panelStart(j + k)
		w := p.panelWidth(j0)
		seg := min(n-k, j0+w-(j+k)) // at most one panel, IntPanel columns
		at := j0*p.KPad + (r/2)*2*w + 2*(j+k-j0)
		oc, os := zeroCodes[:seg], zeroSigns[:seg]
		if odd != nil {
			oc, os = odd[k:k+seg], signOdd[k:k+seg]
		}
		intKernels.signedPairs(p.Data[at:at+2*seg], even[k:k+seg], oc, signEven[k:k+seg], os)
		k += seg
	}
	p.MaxAbs = max(p.MaxAbs, bound)
}

// zeroCodes and zeroSigns stand for the missing partner of an odd last row.
var (
	zeroCodes [IntPanel]int32
	zeroSigns [IntPanel]float32
)

// signedPairsGo interleaves the signed codes of two rows into out.
func signedPairsGo(out []int16, even, odd []int32, signEven, signOdd []float32) {
	out = out[:2*len(even)]
	for i, c := range even {
		ne := int32(math.Float32bits(signEven[i])) >> 31
		no := int32(math.Float32bits(signOdd[i])) >> 31
		out[2*i] = int16(c ^ ne - ne)
		out[2*i+1] = int16(odd[i] ^ no - no)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// At returns element (r, j).
func (p *PackedInt16) At(r, j int) int16 {
	j0 := p.panelStart(j)
	w := p.panelWidth(j0)
	return p.Data[j0*p.KPad+(r/2)*2*w+2*(j-j0)+r%2]
}

// ErrIntOverflow says an integer product could leave the int32 range.
var ErrIntOverflow = fmt.Errorf("linalg: integer product could overflow int32")

// IntProductFits reports whether every sum of k products of codes of
// magnitude at most maxA and maxB stays in the int32 range, and both fit
// int16: then MatMulInt16 is exact.
func IntProductFits(k, maxA, maxB int) bool {
	if maxA < 0 || maxB < 0 || maxA > math.MaxInt16 || maxB > math.MaxInt16 {
		return false
	}
	return k <= 0 || int64(k)*int64(maxA)*int64(maxB) <= math.MaxInt32
}

// MatMulInt16 sets dst to the scaled exact product of a and b:
//
//	dst[i,j] = float32(float64(sum_p a[i,p] b[p,j]) * rowUnit[i] * colUnit[j])
//
// where the sum is exact in int32 (in any order), the two float64 products
// are taken left to right and the result is rounded once to float32. a is
// m x b.K int16 with row stride lda (lda >= b.KPad; when K is odd, a[i, K]
// must be 0), b is packed, dst is m x b.N with row stride ldd; colUnit has
// b.N entries, or 1 shared by every column. maxA bounds |a|; the sums must
// fit (IntProductFits), else ErrIntOverflow.
func MatMulInt16(m int, a []int16, lda int, b *PackedInt16, dst []float32, ldd int, rowUnit, colUnit []float64, maxA int) error {
	if !IntProductFits(b.K, maxA, b.MaxAbs) {
		return fmt.Errorf("%w: k %d, |a| <= %d, |b| <= %d", ErrIntOverflow, b.K, maxA, b.MaxAbs)
	}
	if m == 0 || b.N == 0 {
		return nil
	}
	if lda < b.KPad || ldd < b.N || (len(colUnit) != 1 && len(colUnit) != b.N) {
		return fmt.Errorf("linalg: MatMulInt16: lda %d, ldd %d, %d column units for a packed %d x %d", lda, ldd, len(colUnit), b.K, b.N)
	}
	// Bounds are checked here once, since the assembly kernels cannot.
	_ = a[(m-1)*lda+b.KPad-1]
	_ = dst[(m-1)*ldd+b.N-1]
	_ = rowUnit[m-1]
	scale := intKernels.scaleTile
	emit := func(i, rows, j0, w int, t []int32) {
		n := min(w, b.N-j0)
		cu := colUnit
		if len(cu) != 1 {
			cu = cu[j0 : j0+n]
		}
		scale(dst[i*ldd+j0:(i+rows-1)*ldd+j0+n], ldd, t, rows, n, rowUnit[i:i+rows], cu)
	}
	if b.KPad == 0 {
		zero := make([]int32, 4*IntPanel)
		for j0 := 0; j0 < b.NPad; j0 += b.panelWidth(j0) {
			for i := 0; i < m; i += 4 {
				emit(i, min(4, m-i), j0, b.panelWidth(j0), zero)
			}
		}
		return nil
	}
	intKernels.tiles(m, a, lda, b, emit)
	return nil
}

// intTile holds one kernel call's exact sums: up to 4 rows of up to
// IntPanel columns, row r at r*IntPanel.
type intTile [4 * IntPanel]int32

// tileEmitter receives the sums of rows i to i+rows-1 and of the w columns
// of the panel at j0, row r at t[r*IntPanel:].
type tileEmitter func(i, rows, j0, w int, t []int32)

// tilesGo computes the tiles of a b in pure Go, pairs of products as the
// vector kernels take them.
func tilesGo(m int, a []int16, lda int, b *PackedInt16, emit tileEmitter) {
	kp := b.KPad / 2
	var t intTile
	for j0 := 0; j0 < b.NPad; j0 += b.panelWidth(j0) {
		w := b.panelWidth(j0)
		panel := b.Data[j0*b.KPad : (j0+w)*b.KPad]
		for i := 0; i < m; i += 4 {
			rows := min(4, m-i)
			for r := 0; r < rows; r++ {
				row := a[(i+r)*lda : (i+r)*lda+b.KPad]
				sums := t[r*IntPanel : r*IntPanel+w]
				clear(sums)
				for p := 0; p < kp; p++ {
					x0, x1 := int32(row[2*p]), int32(row[2*p+1])
					pair := panel[p*2*w : (p+1)*2*w]
					for j := range sums {
						sums[j] += x0*int32(pair[2*j]) + x1*int32(pair[2*j+1])
					}
				}
			}
			emit(i, rows, j0, w, t[:])
		}
	}
}

// scaleTileGo sets dst[r*ldd + j] = float32(float64(t[r*IntPanel + j]) *
// ru[r] * cu[j]) for r < rows, j < n (cu of length 1: one unit for every
// column).
func scaleTileGo(dst []float32, ldd int, t []int32, rows, n int, ru, cu []float64) {
	for r := 0; r < rows; r++ {
		scaleRowGo(dst[r*ldd:r*ldd+n], t[r*IntPanel:r*IntPanel+n], ru[r], cu)
	}
}

func scaleRowGo(dst []float32, c []int32, ru float64, colUnit []float64) {
	if len(colUnit) == 1 {
		cu := colUnit[0]
		for j, v := range c {
			dst[j] = float32(float64(v) * ru * cu)
		}
		return
	}
	for j, v := range c {
		dst[j] = float32(float64(v) * ru * colUnit[j])
	}
}

// RoundInt16 sets dst[i] = round(x[i] k), the product rounded to float32,
// then to the nearest integer, half to even; for |x[i] k| < 32767.5.
func RoundInt16(dst []int16, x []float32, k float32) {
	x = x[:len(dst)]
	if len(dst) == 0 {
		return
	}
	intKernels.round(dst, x, k)
}

func roundInt16Go(dst []int16, x []float32, k float32) {
	// Adding and subtracting 1.5 * 2^23 rounds a float32 of magnitude below
	// 2^22 to an integer in the nearest-even mode.
	const magic = 12582912
	for i, v := range x {
		p := float32(v * k)
		dst[i] = int16(float32(p+magic) - magic)
	}
}

// intKernelSet is one choice of the integer kernels.
type intKernelSet struct {
	name  string
	tiles func(m int, a []int16, lda int, b *PackedInt16, emit tileEmitter)
	// scaleTile is scaleTileGo.
	scaleTile func(dst []float32, ldd int, t []int32, rows, n int, ru, cu []float64)
	round     func(dst []int16, x []float32, k float32)
	// signedPairs is signedPairsGo.
	signedPairs func(out []int16, even, odd []int32, signEven, signOdd []float32)
}

var genericIntKernels = intKernelSet{name: "generic", tiles: tilesGo, scaleTile: scaleTileGo, round: roundInt16Go, signedPairs: signedPairsGo}

// IntKernels names the integer kernels in use: "avx512vnni", "avx2" or
// "generic".
func IntKernels() string { return intKernels.name }
