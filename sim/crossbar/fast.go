package crossbar

import (
	"math"

	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
)

// Codec holds a profile's lookup tables for the fast path. It is read-only
// after NewCodec and safe for concurrent use.
type Codec struct {
	P        Profile
	levels   int
	slices   int
	maxCode  int
	cellBits uint      // bits per cell: log2(levels)
	g0       float64   // Gmin / Delta: a digit-0 cell's conductance in steps
	writeStd []float64 // per code: write-noise std in code units at gamma*sigma_w = 1
	readVar  []float64 // per code: noise-free read-noise variance in code units^2 at sigma_r = 1
	cellStd  []float64 // per digit d: one cell's write-noise std in steps, sqrt(d (L-1))
	weight   []float64 // per slice s: L^s
}

// NewCodec validates p and builds its tables.
func NewCodec(p Profile) (*Codec, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Codec{P: p, levels: p.Levels(), slices: p.Slices(), maxCode: p.MaxCode()}
	c.g0 = p.Gmin / p.Delta()
	for 1<<c.cellBits < c.levels {
		c.cellBits++
	}
	c.cellStd = make([]float64, c.levels)
	for d := range c.cellStd {
		c.cellStd[d] = math.Sqrt(float64(d * (c.levels - 1)))
	}
	c.weight = make([]float64, c.slices)
	for s, w := 0, 1.0; s < c.slices; s, w = s+1, w*float64(c.levels) {
		c.weight[s] = w
	}
	c.writeStd = make([]float64, c.maxCode+1)
	c.readVar = make([]float64, c.maxCode+1)
	for code := 0; code <= c.maxCode; code++ {
		var wv, rv float64
		w := 1.0
		for s, rest := 0, code; s < c.slices; s++ {
			d := float64(rest % c.levels)
			rest /= c.levels
			// A cell at digit d has G - Gmin = d Delta and Gmax - Gmin =
			// (L-1) Delta, so its write-noise variance is d (L-1) steps^2.
			wv += w * w * d * float64(c.levels-1)
			rv += w * w * ((c.g0+d)*(c.g0+d) + c.g0*c.g0)
			w *= float64(c.levels)
		}
		c.writeStd[code] = math.Sqrt(wv)
		c.readVar[code] = rv
	}
	return c, nil
}

// WriteStd is the write-noise standard deviation, in code units, of a value
// stored with the given code at gamma*sigma_w = 1. For the per-slice
// granularity its square is (L-1) sum_s L^(2s) d_s (3 sum_s 16^s d_s for
// 2-bit cells); for the per-value granularity it is (2^B-1) code.
func (c *Codec) WriteStd(code int) float64 { return c.writeStd[code] }

// ReadVar is the read-noise variance, in code units^2 at sigma_r = 1, of a
// noise-free value with the given code: sum over slices and both polarities
// of L^(2s) (G/Delta)^2.
func (c *Codec) ReadVar(code int) float64 { return c.readVar[code] }

// Write maps src (n values sharing one scale) to crossbar cells and writes
// the effective stored values (value units) to eff.
//
// Each value goes through the scale (u = min(|x|/scale, 1)), ClipFormer and
// quantisation, then write noise with factor gs = gamma*sigma_w. With
// neither q nor clamping, the noise of a value is one Gaussian with variance
// gs^2 WriteStd(code)^2, exact in distribution for the sum of the independent
// per-cell draws, drawn only for nonzero codes (digit-0 cells are noise-free).
// When q is non-nil or the profile clamps negative conductances, every cell
// is drawn on its own, and q receives each value's read-noise variance in
// value units^2 at sigma_r = 1 (which depends on the noisy cells).
//
// rng is nil only when gs == 0.
func (c *Codec) Write(eff, q, src []float32, scale float32, clip ClipFormer, gs float64, rng *keyrand.Stream) {
	unit := float64(scale) / float64(c.maxCode)
	perCell := q != nil || (c.P.ClampNegative && gs > 0)
	cd := newCoder(&c.P, float64(scale), clip)
	var codes [256]int32 // codes are computed a chunk at a time, vectorised
	for lo := 0; lo < len(src); lo += len(codes) {
		chunk := src[lo:min(lo+len(codes), len(src))]
		cd.codes(codes[:len(chunk)], chunk)
		for k, x := range chunk {
			i, code := lo+k, int(codes[k])
			if !perCell {
				v := float64(code)
				if code != 0 && gs != 0 {
					v += gs * c.writeStd[code] * rng.Norm()
				}
				eff[i] = signed(v*unit, x)
				continue
			}
			v, rv := c.writeCells(code, gs, rng)
			eff[i] = signed(v*unit, x)
			if q != nil {
				q[i] = float32(rv * unit * unit)
			}
		}
	}
}

// WriteColumns is Write for an R x cols row-major matrix m whose columns
// have their own scales (len(scales) == cols), or one scale (len 1); clip is
// off, as for static weights. Values are drawn in row-major order.
func (c *Codec) WriteColumns(eff, q, m []float32, cols int, scales []float32, gs float64, rng *keyrand.Stream) {
	if len(scales) == 1 {
		c.Write(eff, q, m, scales[0], ClipFormer{}, gs, rng)
		return
	}
	for lo := 0; lo < len(m); lo += cols {
		for j := 0; j < cols; j++ {
			var qq []float32
			if q != nil {
				qq = q[lo+j : lo+j+1]
			}
			c.Write(eff[lo+j:lo+j+1], qq, m[lo+j:lo+j+1], scales[j], ClipFormer{}, gs, rng)
		}
	}
}

// signed gives v the sign of x: negated when x's sign bit is set. Not
// math.Copysign: noise may carry a stored magnitude below zero, and that
// must survive. Branch-free, since the signs of K and V are random.
func signed(v float64, x float32) float32 {
	return math.Float32frombits(math.Float32bits(float32(v)) ^ math.Float32bits(x)&(1<<31))
}

// writeCells draws the cells of one value cell by cell and returns its
// effective code and its read-noise variance in code units^2. The other
// polarity's cells all sit at Gmin and are noise-free.
func (c *Codec) writeCells(code int, gs float64, rng *keyrand.Stream) (v, rv float64) {
	if code == 0 || gs == 0 {
		return float64(code), c.readVar[code]
	}
	clamp := c.P.ClampNegative
	mask := c.levels - 1
	for s, rest := 0, code; s < c.slices; s++ {
		di := rest & mask
		rest >>= c.cellBits
		d := float64(di)
		if di != 0 {
			d += gs * c.cellStd[di] * rng.Norm()
			if clamp && d < -c.g0 { // G' >= 0: at most g0 steps below Gmin
				d = -c.g0
			}
		}
		w := c.weight[s]
		v += w * d
		rv += w * w * ((c.g0+d)*(c.g0+d) + c.g0*c.g0)
	}
	return v, rv
}

// QuantizeRows quantises each row of x (rows x n) to the profile's input
// precision with a per-row scale s = max |x|: x <- round(|x|/s M) s/M sign(x),
// M = 2^InputBits - 1, writing to dst (which may alias x).
func (c *Codec) QuantizeRows(dst, x []float32, rows, n int) {
	m := float32(c.P.MaxInput())
	for r := 0; r < rows; r++ {
		row := x[r*n : r*n+n]
		out := dst[r*n : r*n+n]
		s := MaxAbs(row)
		if s == 0 {
			clear(out)
			continue
		}
		linalg.RoundScale(out, row, m/s, s/m)
	}
}

// inputCode is the signed input code of v at k = M/s, rounded half to even.
// Adding and subtracting 1.5 * 2^23 rounds a float32 of magnitude below 2^22
// to an integer in the current (nearest-even) mode; |v k| <= M < 2^16.
func inputCode(v, k float32) float32 {
	const magic = 12582912 // 1.5 * 2^23
	x := float32(v * k)    // the conversion rounds: no fused multiply-add (GOAMD64=v3, arm64)
	return float32(x+magic) - magic
}

// AddReadNoise adds sigmaR sqrt(v) eps to y element-wise, where v holds the
// read-noise variances (x_q^2) Q of each output at sigma_r = 1.
func AddReadNoise(y, v []float32, sigmaR float64, rng *keyrand.Stream) {
	for i, vi := range v[:len(y)] {
		y[i] += float32(sigmaR * math.Sqrt(float64(vi)) * rng.Norm())
	}
}

// MaxAbs returns max |x|.
func MaxAbs(x []float32) float32 { return linalg.MaxAbs(x) }
