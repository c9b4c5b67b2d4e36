package crossbar

import (
	"math"

	"github.com/clipformer/clipformer/sim/keyrand"
)

// Array is the reference path's explicit model of one stored R x C matrix M
// (y = x M): every cell of every bit slice of both polarities, with the
// conductance it was written to. It is read-only after WriteArray, so any
// number of goroutines may read it at once, each with its own Scratch.
type Array struct {
	c     *Codec
	R, C  int
	scale []float64    // per column: the value that maps to Gmax
	g     [2][]float64 // written conductances, [polarity][(s*R+r)*C+col], uS
}

// Scratch holds the buffers of one reference-path MVM. A goroutine keeps one
// and passes it to every MVM it runs, so the hot path allocates nothing once
// the buffers have grown to the largest array; the zero value is ready.
type Scratch struct {
	read   [2][]float64 // conductances seen by one noisy read
	acc    []float64    // per column: the shift-added result
	ip, in []float64    // per column: one conversion's I+ and I-, in uS
	xcodes []float32    // signed input codes
	active []int32      // the rows whose input has the current bit set
}

// grow sizes the buffers for an R x C array of the given cell count.
func (sc *Scratch) grow(R, C, cells int, noisy bool) {
	sc.acc = growF64(sc.acc, C)
	sc.ip = growF64(sc.ip, C)
	sc.in = growF64(sc.in, C)
	if cap(sc.xcodes) < R {
		sc.xcodes = make([]float32, R)
		sc.active = make([]int32, 0, R)
	}
	sc.xcodes = sc.xcodes[:R]
	if noisy {
		for pol := range sc.read {
			sc.read[pol] = growF64(sc.read[pol], cells)
		}
	}
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
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
	return a
}

// MVM computes y (len C) = x (len R) M as the periphery does: x is quantised
// to InputBits magnitudes and streamed bit by bit, positive part then
// negative part; each 64-row tile, slice and bit-cycle gives per-column
// currents I+ and I-, whose difference, divided by Delta, is converted by the
// ADC (ideal, or ADCBits over +-tileRows (L-1) steps) and shift-added by 2^k
// and L^s; the sum is finally scaled by s_x s_M / ((2^Bin-1)(2^B-1)).
// Read noise G" = G' (1 + sigmaR eps) is drawn once per cell for this input
// vector (rng may be nil when sigmaR == 0).
//
// sc holds the call's working buffers; MVM writes nothing else but y, so
// goroutines with their own Scratch may share a. A nil sc allocates a fresh
// one, for one-off calls.
//
// Each column current sums its active rows in ascending row order, as the
// plain loop over r = t0..t1-1 with a bit test per row would.
func (a *Array) MVM(y []float64, x []float32, sigmaR float64, rng *keyrand.Stream, sc *Scratch) {
	if sc == nil {
		sc = new(Scratch)
	}
	p := &a.c.P
	R, C := a.R, a.C
	sc.grow(R, C, len(a.g[0]), sigmaR != 0)
	clear(sc.acc)
	sx := MaxAbs(x)
	if sx == 0 {
		clear(y[:C])
		return
	}
	mIn := float32(p.MaxInput())
	k := mIn / sx
	for i, v := range x[:R] {
		sc.xcodes[i] = inputCode(v, k)
	}
	cells := a.g
	if sigmaR != 0 {
		for pol := range a.g {
			for i, g := range a.g[pol] {
				sc.read[pol][i] = g * (1 + sigmaR*rng.Norm())
			}
		}
		cells = sc.read
	}
	delta := p.Delta()
	levels := float64(a.c.levels)
	for pass := 0; pass < 2; pass++ { // positive inputs, then negative inputs
		sign := 1.0
		if pass == 1 {
			sign = -1
		}
		for bit := 0; bit < p.InputBits; bit++ {
			active := sc.active[:0]
			for r, xc := range sc.xcodes {
				if xc != 0 && (pass == 0) == (xc > 0) && int(math.Abs(float64(xc)))>>bit&1 != 0 {
					active = append(active, int32(r))
				}
			}
			sc.active = active
			shift := sign * float64(int(1)<<bit)
			for t0 := 0; t0 < R; t0 += p.Rows {
				t1 := min(t0+p.Rows, R)
				rows := active
				for len(rows) > 0 && int(rows[0]) < t0 {
					rows = rows[1:]
				}
				n := 0
				for n < len(rows) && int(rows[n]) < t1 {
					n++
				}
				rows = rows[:n]
				w := 1.0
				for s := 0; s < a.c.slices; s++ {
					ip, in := sc.ip[:C], sc.in[:C]
					clear(ip)
					clear(in)
					for _, r := range rows {
						base := (s*R + int(r)) * C
						for col, g := range cells[0][base : base+C] {
							ip[col] += g
						}
						for col, g := range cells[1][base : base+C] {
							in[col] += g
						}
					}
					for col := range ip {
						sc.acc[col] += shift * w * a.adc((ip[col]-in[col])/delta, t1-t0)
					}
					w *= levels
				}
			}
		}
	}
	unitX := float64(sx) / float64(mIn)
	for col := 0; col < C; col++ {
		y[col] = sc.acc[col] * unitX * a.scale[col] / float64(p.MaxCode())
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
