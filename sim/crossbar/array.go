package crossbar

import (
	"math"

	"github.com/clipformer/clipformer/sim/keyrand"
)

// Array is the reference path's explicit model of one stored R x C matrix M
// (y = x M): every cell of every bit slice of both polarities, with the
// conductance it was written to.
type Array struct {
	c      *Codec
	R, C   int
	scale  []float64    // per column: the value that maps to Gmax
	g      [2][]float64 // written conductances, [polarity][(s*R+r)*C+col], uS
	read   [2][]float64 // scratch: conductances seen by one noisy read, allocated on first use
	acc    []float64    // scratch: per-column accumulators
	xcodes []float32    // scratch: input codes
}

// WriteArray writes the R x C row-major matrix m to cells: scale (len 1, or
// C for one per column) maps to Gmax, clip transforms each value's
// conductance, and every cell gets write noise with factor gs = gamma*sigma_w
// (clamped at 0 if the profile says so). rng is nil only when gs == 0.
func (c *Codec) WriteArray(m []float32, R, C int, scale []float32, clip ClipFormer, gs float64, rng *keyrand.Stream) *Array {
	p := &c.P
	a := &Array{c: c, R: R, C: C, scale: make([]float64, C)}
	for j := range a.scale {
		if len(scale) == 1 {
			a.scale[j] = float64(scale[0])
		} else {
			a.scale[j] = float64(scale[j])
		}
	}
	n := c.slices * R * C
	for pol := range a.g {
		a.g[pol] = make([]float64, n)
	}
	delta := p.Delta()
	spread := p.Gmax - p.Gmin
	coders := make([]coder, len(scale))
	for j, s := range scale {
		coders[j] = newCoder(p, float64(s), clip)
	}
	for r := 0; r < R; r++ {
		for col := 0; col < C; col++ {
			x := m[r*C+col]
			cd := &coders[0]
			if len(coders) > 1 {
				cd = &coders[col]
			}
			code := cd.code(float64(x))
			pol := 0
			if x < 0 {
				pol = 1
			}
			for s, rest := 0, code; s < c.slices; s++ {
				d := rest % c.levels
				rest /= c.levels
				idx := (s*R+r)*C + col
				a.g[1-pol][idx] = p.Gmin
				g := p.Gmin + float64(d)*delta
				if d != 0 && gs != 0 {
					g += gs * math.Sqrt((g-p.Gmin)*spread) * rng.Norm()
					if p.ClampNegative {
						g = max(g, 0)
					}
				}
				a.g[pol][idx] = g
			}
		}
	}
	a.acc = make([]float64, C)
	a.xcodes = make([]float32, R)
	return a
}

// MVM computes y (len C) = x (len R) M as the periphery does: x is quantised
// to InputBits magnitudes and streamed bit by bit, positive part then
// negative part; each 64-row tile, slice and bit-cycle gives per-column
// currents I+ and I-, whose difference, divided by Delta, is converted by the
// ADC (ideal, or ADCBits over +-tileRows (L-1) steps) and shift-added by 2^k
// and L^s; the sum is finally scaled by s_x s_M / ((2^Bin-1)(2^B-1)).
// Read noise G” = G' (1 + sigmaR eps) is drawn once per cell for this input
// vector (rng may be nil when sigmaR == 0).
func (a *Array) MVM(y []float64, x []float32, sigmaR float64, rng *keyrand.Stream) {
	p := &a.c.P
	R, C := a.R, a.C
	sx := MaxAbs(x)
	clear(a.acc)
	if sx == 0 {
		clear(y[:C])
		return
	}
	mIn := float32(p.MaxInput())
	k := mIn / sx
	for i, v := range x[:R] {
		a.xcodes[i] = inputCode(v, k)
	}
	cells := a.g
	if sigmaR != 0 {
		for pol := range a.g {
			if a.read[pol] == nil {
				a.read[pol] = make([]float64, len(a.g[pol]))
			}
			for i, g := range a.g[pol] {
				a.read[pol][i] = g * (1 + sigmaR*rng.Norm())
			}
		}
		cells = a.read
	}
	delta := p.Delta()
	levels := float64(a.c.levels)
	for pass := 0; pass < 2; pass++ { // positive inputs, then negative inputs
		sign := 1.0
		if pass == 1 {
			sign = -1
		}
		for bit := 0; bit < p.InputBits; bit++ {
			for t0 := 0; t0 < R; t0 += p.Rows {
				t1 := min(t0+p.Rows, R)
				w := 1.0
				for s := 0; s < a.c.slices; s++ {
					for col := 0; col < C; col++ {
						var ip, in float64
						for r := t0; r < t1; r++ {
							xc := a.xcodes[r]
							if (pass == 0) != (xc > 0) || xc == 0 {
								continue
							}
							if int(math.Abs(float64(xc)))>>bit&1 == 0 {
								continue
							}
							idx := (s*R+r)*C + col
							ip += cells[0][idx]
							in += cells[1][idx]
						}
						v := a.adc((ip-in)/delta, t1-t0)
						a.acc[col] += sign * float64(int(1)<<bit) * w * v
					}
					w *= levels
				}
			}
		}
	}
	unitX := float64(sx) / float64(mIn)
	for col := 0; col < C; col++ {
		y[col] = a.acc[col] * unitX * a.scale[col] / float64(p.MaxCode())
	}
}

// adc converts a differential column value (in conductance steps) from a
// tile of rows rows with the profile's ADC: ideal when ADCBits is 0, else a
// signed uniform quantiser with 2^(n-1)-1 levels each side over the full
// scale +-rows (L-1).
func (a *Array) adc(v float64, rows int) float64 {
	n := a.c.P.ADCBits
	if n == 0 {
		return v
	}
	fs := float64(rows * (a.c.levels - 1))
	steps := float64(int(1)<<(n-1) - 1)
	if steps < 1 {
		steps = 1
	}
	q := math.Round(v / fs * steps)
	q = max(-steps, min(steps, q))
	return q * fs / steps
}
