package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/vit"
)

// Read noise alone (no write or programming noise, an ideal ADC) makes each
// output a linear function of Gaussian draws, so it is exactly Gaussian with
// the variance of crossbar-model.md section 6:
//
//	Var(y_j) = sigma_r^2 sum_i x_q,i^2 Q_ij,
//	Q_ij = sum_s L^(2s) (G+_ijs^2 + G-_ijs^2) / Delta^2 (s_M / (2^B - 1))^2.
//
// These tests draw readDraws independent reads of one input vector through
// the simulator's own ops (xbarOps.Linear for a static linear,
// xbarOps.product for the written K^T and V), on both paths and both noise
// granularities, and compare each output's sample variance with that closed
// form, computed here from the spec rather than from the codec's tables.
const readDraws = 1000

// readSigmas is how many standard deviations of the sampling distribution a
// sample variance may stray from the closed form. The sample variance of n
// Gaussian draws is want chi^2_(n-1)/(n-1), with relative standard deviation
// sqrt(2/(n-1)) (4.5 % at n = 1000). These tests make 324 per-output checks
// and 12 pooled ones. The chi^2_999 tails beyond 6 sigmas hold 1.4e-8
// (upper) and 2e-11 (lower), so a correct simulator fails some check for a
// given seed with probability below 1e-5; a read-noise variance off by a
// fifth still fails the pooled checks.
const readSigmas = 6

// readNoiseCheck compares sample variances v[j] of n draws against want[j]:
// each on its own, and pooled as the mean of v[j]/want[j] over the C
// independent outputs, whose relative standard deviation is
// sqrt(2/(n-1)/C). The pooled check resolves a few per cent of error.
func readNoiseCheck(v, want []float64, n int) error {
	rel := math.Sqrt(2 / float64(n-1))
	var pooled float64
	for j := range v {
		if !(math.Abs(v[j]-want[j]) <= readSigmas*rel*want[j]) {
			return fmt.Errorf("output %d: sample variance %.6g, closed form %.6g (tolerance %.2g %%)", j, v[j], want[j], 100*readSigmas*rel)
		}
		pooled += v[j] / want[j]
	}
	pooled /= float64(len(v))
	if tol := readSigmas * rel / math.Sqrt(float64(len(v))); !(math.Abs(pooled-1) <= tol) {
		return fmt.Errorf("mean ratio of sample variance to closed form %.4f, want 1 within %.4f", pooled, tol)
	}
	return nil
}

// checkReadNoise runs readNoiseCheck on the draws, then makes sure that the
// comparison can fail: the closed form with its read-noise term doubled, and
// with it dropped, must both be rejected.
func checkReadNoise(t *testing.T, dst []float32, cols int, want []float64) {
	t.Helper()
	v := columnVariances(dst, readDraws, cols)
	if err := readNoiseCheck(v, want, readDraws); err != nil {
		t.Error(err)
	}
	for _, f := range []float64{2, 0} {
		mut := make([]float64, len(want))
		for j := range want {
			mut[j] = f * want[j]
		}
		if readNoiseCheck(v, mut, readDraws) == nil {
			t.Errorf("the closed form with its read-noise term times %g passes too: the check cannot see read noise", f)
		}
	}
}

// columnVariances is the sample variance of each column of a rows x cols matrix.
func columnVariances(y []float32, rows, cols int) []float64 {
	v := make([]float64, cols)
	for j := range v {
		var m float64
		for r := 0; r < rows; r++ {
			m += float64(y[r*cols+j])
		}
		m /= float64(rows)
		for r := 0; r < rows; r++ {
			d := float64(y[r*cols+j]) - m
			v[j] += d * d
		}
		v[j] /= float64(rows - 1)
	}
	return v
}

// closedFormReadVar is sigma_r^2 sum_i x_q,i^2 Q_ij for a stored inner x
// cols matrix m with scale s (one per column, or one), the transform clip,
// and input x quantised with its own max |x|.
func closedFormReadVar(p *crossbar.Profile, m []float32, inner, cols int, scales []float32, clip crossbar.ClipFormer, x []float32, sigmaR float64) []float64 {
	sx := float64(crossbar.MaxAbs(x))
	mIn := float64(p.MaxInput())
	delta := p.Delta()
	levels := p.Levels()
	out := make([]float64, cols)
	for j := range out {
		s := float64(scales[0])
		if len(scales) > 1 {
			s = float64(scales[j])
		}
		unit := s / float64(p.MaxCode())
		for i := 0; i < inner; i++ {
			xq := math.RoundToEven(float64(x[i])/sx*mIn) * sx / mIn
			code := clip.Code(p, float64(m[i*cols+j]), s)
			var q float64 // in code units^2
			w := 1.0
			for sl := 0; sl < p.Slices(); sl++ {
				d := code % levels
				code /= levels
				gOn := p.Gmin + float64(d)*delta // the value's polarity
				gOff := p.Gmin                   // the other polarity holds digit 0
				q += w * w * (gOn*gOn + gOff*gOff) / (delta * delta)
				w *= float64(levels)
			}
			out[j] += xq * xq * q * unit * unit
		}
		out[j] *= sigmaR * sigmaR
	}
	return out
}

func repeatRows(x []float32, rows int) []float32 {
	out := make([]float32, 0, rows*len(x))
	for range rows {
		out = append(out, x...)
	}
	return out
}

func randomVector(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// readNoiseSettings are the profiles under test: read noise on, no write
// noise, both granularities and both paths; the fast path also with each
// read-noise switch (bf16Variances, vectorNormals) flipped and with both,
// each with the integer products as evaluations take them.
func readNoiseSettings(f func(name string, s *Setting, opt mapOptions)) {
	def := defaultMapOptions()
	variants := []struct {
		name string
		opt  mapOptions
	}{
		{"", def},
		{"/bf16", mapOptions{intProducts: def.intProducts, bf16Variances: !def.bf16Variances, vectorNormals: def.vectorNormals}},
		{"/vec", mapOptions{intProducts: def.intProducts, bf16Variances: def.bf16Variances, vectorNormals: !def.vectorNormals}},
		{"/bf16_vec", mapOptions{intProducts: def.intProducts, bf16Variances: !def.bf16Variances, vectorNormals: !def.vectorNormals}},
	}
	for _, gran := range []crossbar.Granularity{crossbar.PerSlice, crossbar.PerValue} {
		for _, path := range []Path{Fast, Reference} {
			for i, v := range variants {
				if i > 0 && path == Reference {
					continue
				}
				p := crossbar.Default()
				p.Granularity = gran
				p.SigmaR = 0.05
				p.ProgrammingGamma = 0
				s := Setting{Profile: p, Gamma: 0, Seed: 5, Path: path, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.5}}
				f(fmt.Sprintf("%s/%s%s", gran, path, v.name), &s, v.opt)
			}
		}
	}
}

func TestReadNoiseVarianceOfAStaticLinearIsSigmaR2X2Q(t *testing.T) {
	m := smallModel(t)
	id := vit.LinearID{Block: 1, Kind: vit.Proj}
	l := &m.Blocks[1].Proj
	x := randomVector(rand.New(rand.NewPCG(1, 2)), l.In)
	readNoiseSettings(func(name string, s *Setting, opt mapOptions) {
		t.Run(name, func(t *testing.T) {
			mp, err := mapWeights(m, s, s.Path, opt)
			if err != nil {
				t.Fatal(err)
			}
			o := newXbarOps(s, mp, nil)
			o.begin([]int{4}, m.Depth)
			dst := make([]float32, readDraws*l.Out)
			o.Linear(id, l, dst, repeatRows(x, readDraws), readDraws)
			// Static weights take no ClipFormer; the scale is max |W| of the layer.
			want := closedFormReadVar(&s.Profile, l.WT, l.In, l.Out, []float32{crossbar.MaxAbs(l.WT)}, crossbar.ClipFormer{}, x, s.Profile.SigmaR)
			checkReadNoise(t, dst, l.Out, want)
		})
	})
}

// K^T (d_h x N) is read by query rows of any sign, V (N x d_h) by attention
// rows, which are non-negative and so need one input pass; both are written
// with ClipFormer and a static scale below their largest value, so some
// values saturate.
func TestReadNoiseVarianceOfWrittenKTAndVIsSigmaR2X2Q(t *testing.T) {
	const tokens, hd = 17, 32
	r := rand.New(rand.NewPCG(3, 4))
	kt, v := randomVector(r, hd*tokens), randomVector(r, tokens*hd)
	q := randomVector(r, hd)
	attn := randomVector(r, tokens)
	var sum float32
	for i, a := range attn {
		attn[i] = float32(math.Exp(float64(a)))
		sum += attn[i]
	}
	for i := range attn {
		attn[i] /= sum
	}
	kv := &KVScales{Blocks: 1, Heads: 1, K: []float32{0.8 * crossbar.MaxAbs(kt)}, V: []float32{0.8 * crossbar.MaxAbs(v)}}
	cases := []struct {
		name        string
		x, m        []float32
		inner, cols int
		scale       float32
		write, read keyrand.Kind
	}{
		{"KT", q, kt, hd, tokens, kv.K[0], keyrand.WriteK, keyrand.ReadQK},
		{"V", attn, v, tokens, hd, kv.V[0], keyrand.WriteV, keyrand.ReadAV},
	}
	readNoiseSettings(func(name string, s *Setting, opt mapOptions) {
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				mp, err := mapWeights(&vit.Model{}, s, s.Path, opt)
				if err != nil {
					t.Fatal(err)
				}
				o := newXbarOps(s, mp, kv)
				o.begin([]int{6}, 1)
				a := &vit.Attention{Block: 0, Head: 0, Image: 6, Tokens: tokens, HeadDim: hd}
				dst := make([]float32, readDraws*c.cols)
				o.product(a, repeatRows(c.x, readDraws), c.m, readDraws, c.inner, c.cols, dst, c.write, c.read)
				want := closedFormReadVar(&s.Profile, c.m, c.inner, c.cols, []float32{c.scale}, s.Clip, c.x, s.Profile.SigmaR)
				checkReadNoise(t, dst, c.cols, want)
			})
		}
	})
}
