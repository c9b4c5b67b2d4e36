package crossbar

import (
	"math"

	"github.com/clipformer/clipformer/sim/linalg"
)

// Exact integer products. Without write (or programming) noise a stored
// value is its signed code times the scale's unit, and an input is its
// signed input code times its row's unit, so a crossbar product is an
// integer sum of code products, scaled once: linalg.MatMulInt16 computes it
// exactly in int32, in any order.

// IntegerProducts reports whether a product with inner dimension k between
// this profile's input codes and stored codes fits the exact int32 kernels.
func (c *Codec) IntegerProducts(k int) bool {
	return linalg.IntProductFits(k, c.P.MaxInput(), c.maxCode)
}

// Unit is the value of one code step of a matrix stored with this scale.
func (c *Codec) Unit(scale float32) float64 { return float64(scale) / float64(c.maxCode) }

// SignedCodes writes to dst the signed codes that Write stores for src
// without noise (gamma sigma_w = 0): the code of |x| with the sign of x, so
// that Write's effective value is the code times Unit(scale). When q is
// non-nil it receives each value's read-noise variance as Write gives it.
// The codes must fit int16 (IntegerProducts).
func (c *Codec) SignedCodes(dst []int16, q, src []float32, scale float32, clip ClipFormer) {
	unit := c.Unit(scale)
	cd := newCoder(&c.P, float64(scale), clip)
	var codes [256]int32
	for lo := 0; lo < len(src); lo += len(codes) {
		chunk := src[lo:min(lo+len(codes), len(src))]
		cd.codes(codes[:len(chunk)], chunk)
		out := dst[lo : lo+len(chunk)]
		for k, x := range chunk {
			// -code when x's sign bit is set, branch-free: the signs of K
			// and V are random.
			neg := int32(math.Float32bits(x)) >> 31
			out[k] = int16(codes[k] ^ neg - neg)
		}
		if q != nil {
			for k, code := range codes[:len(chunk)] {
				q[lo+k] = float32(c.readVar[code] * unit * unit)
			}
		}
	}
}

// SignedCodesPacked is SignedCodes for a rows x cols row-major matrix m,
// written straight into dst's packed layout (shaped rows x cols here), two
// rows at a time.
func (c *Codec) SignedCodesPacked(dst *linalg.PackedInt16, q, m []float32, rows, cols int, scale float32, clip ClipFormer) {
	dst.Reset(rows, cols)
	unit := c.Unit(scale)
	cd := newCoder(&c.P, float64(scale), clip)
	var even, odd [256]int32
	for r := 0; r < rows; r += 2 {
		for lo := 0; lo < cols; lo += len(even) {
			n := min(len(even), cols-lo)
			i0 := r*cols + lo
			xe := m[i0 : i0+n]
			cd.codes(even[:n], xe)
			var oc []int32
			var xo []float32
			if r+1 < rows {
				xo = m[i0+cols : i0+cols+n]
				cd.codes(odd[:n], xo)
				oc = odd[:n]
			}
			dst.SetSignedPairs(r, lo, even[:n], oc, xe, xo, c.maxCode)
			if q != nil {
				c.readVars(q[i0:i0+n], even[:n], unit)
				if oc != nil {
					c.readVars(q[i0+cols:i0+cols+n], oc, unit)
				}
			}
		}
	}
}

// readVars sets q[i] to the read-noise variance of a noise-free value with
// code codes[i], in value units^2 at sigma_r = 1, as Write gives it.
func (c *Codec) readVars(q []float32, codes []int32, unit float64) {
	for i, code := range codes {
		q[i] = float32(c.readVar[code] * unit * unit)
	}
}

// SignedCodesColumns is SignedCodes for an R x cols row-major matrix m whose
// columns have their own scales (len(scales) == cols), or one scale (len 1),
// as WriteColumns without noise.
func (c *Codec) SignedCodesColumns(dst []int16, q, m []float32, cols int, scales []float32) {
	if len(scales) == 1 {
		c.SignedCodes(dst, q, m, scales[0], ClipFormer{})
		return
	}
	for lo := 0; lo < len(m); lo += cols {
		for j := 0; j < cols; j++ {
			var qq []float32
			if q != nil {
				qq = q[lo+j : lo+j+1]
			}
			c.SignedCodes(dst[lo+j:lo+j+1], qq, m[lo+j:lo+j+1], scales[j], ClipFormer{})
		}
	}
}

// QuantizeCodes is QuantizeRows giving the codes: row r of x (rows x n)
// becomes round(x k) with k = M/s, s = max |x_r|, M = 2^InputBits - 1, the
// same codes that QuantizeRows scales back, written to dst with row stride
// ldd (the columns from n to ldd are zeroed); units[r] = s/M is the value
// of one step. The input codes must fit int16 (IntegerProducts).
func (c *Codec) QuantizeCodes(dst []int16, ldd int, units []float64, x []float32, rows, n int) {
	m := float32(c.P.MaxInput())
	for r := 0; r < rows; r++ {
		row := x[r*n : r*n+n]
		out := dst[r*ldd : r*ldd+ldd]
		clear(out[n:])
		s := MaxAbs(row)
		if s == 0 {
			clear(out)
			units[r] = 0
			continue
		}
		linalg.RoundInt16(out[:n], row, m/s)
		units[r] = float64(s) / float64(m)
	}
}
