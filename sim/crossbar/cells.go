package crossbar

import (
	"math"

	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
)

// cellParams are the per-write constants of the vector per-cell write, in
// the layout cells_amd64.s reads.
type cellParams struct {
	slices   int64
	cellBits int64
	mask     int32
	lm1      float32 // L - 1
	gs       float32 // gamma sigma_w
	lo       float32 // -g0 when clamping, -Inf otherwise
	g0       float32 // Gmin / Delta
	g0sq     float32 // g0^2
	unit     float32 // one code step in value units
	unit2    float32 // its square
	weight   [16]float32
	weightSq [16]float32
}

// WriteNormals is Write's per-cell path when the read-noise variances q are
// wanted (q non-nil, gs > 0), in float32 vector code with the draws from a
// Normals source: every cell takes one draw, digit 0 included (its
// standard deviation is 0, so the draw leaves it noise-free), the draws of a
// chunk of 256 values slice by slice. The effective value is sum_s L^s d'_s
// and the variance sum_s L^(2s) ((g0 + d'_s)^2 + g0^2), with d'_s = d_s +
// gs sqrt(d_s (L-1)) eps, clamped at -g0 when the profile clamps; each step
// a rounded float32 operation, so the AVX2 kernel (cells_amd64.s) and the
// pure-Go twin (writeCellsGo) give the same bits. The same distribution as
// Write's, other draws.
func (c *Codec) WriteNormals(eff, q, src []float32, scale float32, clip ClipFormer, gs float64, g *keyrand.Normals) {
	unit := float64(scale) / float64(c.maxCode)
	p := cellParams{slices: int64(c.slices), cellBits: int64(c.cellBits), mask: int32(c.levels - 1),
		lm1: float32(c.levels - 1), gs: float32(gs), lo: float32(math.Inf(-1)), g0: float32(c.g0),
		unit: float32(unit), unit2: float32(unit * unit)}
	p.g0sq = p.g0 * p.g0
	if c.P.ClampNegative {
		p.lo = -p.g0
	}
	for s := 0; s < c.slices; s++ {
		p.weight[s] = float32(c.weight[s])
		p.weightSq[s] = p.weight[s] * p.weight[s]
	}
	cd := newCoder(&c.P, float64(scale), clip)
	var codes [256]int32
	var eps [256 * 16]float32 // slices <= 16 (precision_bits <= 16)
	for lo := 0; lo < len(src); lo += len(codes) {
		chunk := src[lo:min(lo+len(codes), len(src))]
		n := len(chunk)
		cd.codes(codes[:n], chunk)
		g.Fill(eps[:c.slices*n])
		writeCells(eff[lo:lo+n], q[lo:lo+n], codes[:n], chunk, eps[:c.slices*n], &p)
	}
}

// writeCells computes the effective values and variances of one chunk: the
// AVX2 kernel on blocks of 8 where the kernel level allows, the Go twin on
// the rest.
func writeCells(eff, q []float32, codes []int32, x, eps []float32, p *cellParams) {
	n := len(codes)
	done := 0
	if n >= 8 && linalg.Kernels() >= linalg.LevelAVX2 {
		done = n &^ 7
		writeCellsKernel(&eff[0], &q[0], &codes[0], &x[0], &eps[0], done, n, p)
	}
	writeCellsGo(eff, q, codes, x, eps, done, n, p)
}

// writeCellsGo computes values from..n-1 of a chunk of n; eps holds the
// chunk's draws slice by slice (slice s of value k at s n + k).
func writeCellsGo(eff, q []float32, codes []int32, x, eps []float32, from, n int, p *cellParams) {
	for k := from; k < n; k++ {
		var v, rv float32
		for s := 0; s < int(p.slices); s++ {
			d := float32(codes[k] >> (uint(s) * uint(p.cellBits)) & p.mask)
			sd := float32(math.Sqrt(float64(float32(d * p.lm1))))
			d += float32(float32(p.gs*sd) * eps[s*n+k])
			if d < p.lo {
				d = p.lo
			}
			v += float32(p.weight[s] * d)
			t := p.g0 + d
			rv += float32(p.weightSq[s] * (float32(t*t) + p.g0sq))
		}
		eff[k] = math.Float32frombits(math.Float32bits(float32(v*p.unit)) ^ math.Float32bits(x[k])&(1<<31))
		q[k] = float32(rv * p.unit2)
	}
}
