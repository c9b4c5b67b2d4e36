package crossbar

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
)

// The vector per-cell write gives the Go twin's bits on every kernel level:
// both granularities, clamping on and off, chunk lengths with tails.
func TestWriteNormalsKernelsGiveTheSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, gran := range []Granularity{PerSlice, PerValue} {
		for _, clamp := range []bool{false, true} {
			p := Default()
			p.Granularity = gran
			p.ClampNegative = clamp
			c, err := NewCodec(p)
			if err != nil {
				t.Fatal(err)
			}
			src := make([]float32, 1000)
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			clip := ClipFormer{On: true, Alpha: 2, Beta: 0.5}
			key := keyrand.Key{Seed: 1, Image: 3, Kind: keyrand.WriteK}
			var want [2][]float32
			for li, l := range linalg.Available() {
				restore, _ := linalg.UseKernels(l)
				eff, q := make([]float32, len(src)), make([]float32, len(src))
				c.WriteNormals(eff, q, src, 2, clip, 4*p.EffectiveSigmaW(), keyrand.NewNormals(key))
				restore()
				if li == 0 {
					want = [2][]float32{eff, q}
					continue
				}
				for i := range eff {
					if math.Float32bits(eff[i]) != math.Float32bits(want[0][i]) || math.Float32bits(q[i]) != math.Float32bits(want[1][i]) {
						t.Fatalf("%s, clamp %v, level %s, value %d: (%g, %g), pure Go (%g, %g)", gran, clamp, l, i, eff[i], q[i], want[0][i], want[1][i])
					}
				}
			}
		}
	}
}

// WriteNormals has Write's distribution: for every code, the mean of the
// effective value is the code, its variance gs^2 WriteStd(code)^2, and the
// mean read-noise variance ReadVar(code) plus gs^2 sum_s L^(2s) d_s (L-1)
// (each cell's (g0 + d + e)^2 gains the variance of e), within 5 standard
// errors.
func TestWriteNormalsHasWritesDistribution(t *testing.T) {
	for _, gran := range []Granularity{PerSlice, PerValue} {
		p := Default()
		p.Granularity = gran
		c, err := NewCodec(p)
		if err != nil {
			t.Fatal(err)
		}
		const n = 20000
		gs := 0.5
		g := keyrand.NewNormals(keyrand.Key{Seed: 9, Kind: keyrand.WriteV})
		for _, code := range []int{1, 2, 7, 62, 200, 255} {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(code) // scale maxCode: the value is its code
			}
			eff, q := make([]float32, n), make([]float32, n)
			c.WriteNormals(eff, q, src, float32(c.maxCode), ClipFormer{}, gs, g)
			var m, v, mq float64
			for i := range eff {
				m += float64(eff[i])
				mq += float64(q[i])
			}
			m /= n
			mq /= n
			for i := range eff {
				v += (float64(eff[i]) - m) * (float64(eff[i]) - m)
			}
			v /= n - 1
			sd := gs * c.WriteStd(code)
			wantQ := c.ReadVar(code) + sd*sd
			if math.Abs(m-float64(code)) > 5*sd/math.Sqrt(n) || math.Abs(v-sd*sd) > 5*sd*sd*math.Sqrt(2.0/n) {
				t.Errorf("%s, code %d: mean %g variance %g, want %d and %g", gran, code, m, v, code, sd*sd)
			}
			if math.Abs(mq-wantQ) > 0.02*wantQ {
				t.Errorf("%s, code %d: mean read-noise variance %g, want %g", gran, code, mq, wantQ)
			}
		}
	}
}
