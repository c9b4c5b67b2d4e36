package crossbar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
)

func mustCodec(t testing.TB, p Profile) *Codec {
	t.Helper()
	c, err := NewCodec(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// With r = Gmax/Gmin, Stage I is soft-thresholding of |x| by alpha s/(r-1)
// and Stage II caps |x| at (beta r - 1)/(r - 1) s (crossbar-model.md section 5).
func TestClipFormerValueDomainEquivalence(t *testing.T) {
	p := Default()
	r := p.Gmax / p.Gmin
	const s = 3.0
	for _, clip := range []ClipFormer{{true, 1, 1}, {true, 2, 0.25}, {true, 3, 0.5}, {true, 1.5, 0.125}} {
		thr := clip.Alpha * s / (r - 1)
		cap := (clip.Beta*r - 1) / (r - 1) * s
		for _, x := range []float64{0, 0.001, thr * 0.999, thr * 1.001, 0.1, 0.5, 1, 2.9, 3, 7} {
			span := p.Gmax - p.Gmin
			g := clip.Transform(p.Gmin+span*min(x/s, 1), &p)
			got := (g - p.Gmin) / span * s
			want := min(max(min(x, s)-thr, 0), cap)
			// Both sides are a few float64 operations on values of order s.
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("%v x=%v: conductance-domain transform gives %v, value-domain %v", clip, x, got, want)
			}
		}
	}
	// The spec's worked numbers for alpha = 2 and beta = 0.25.
	if thr := 2 / (r - 1); math.Abs(thr-0.0202) > 5e-5 {
		t.Errorf("alpha=2 threshold = %.5f s, want 0.0202 s", thr)
	}
	if cap := (0.25*r - 1) / (r - 1); math.Abs(cap-0.2424) > 5e-5 {
		t.Errorf("beta=0.25 cap = %.5f s, want 0.2424 s", cap)
	}
}

func TestClipFormerBeta025EmptiesMostSignificantSlice(t *testing.T) {
	p := Default()
	clip := ClipFormer{On: true, Alpha: 2, Beta: 0.25}
	if got := clip.MaxCode(&p); got != 62 {
		t.Fatalf("largest code at beta=0.25: got %d, want 62", got)
	}
	if got := p.SlicesFor(clip.MaxCode(&p)); got != 3 {
		t.Fatalf("slices needed at beta=0.25: got %d, want 3", got)
	}
	if got := p.SlicesFor(ClipFormer{}.MaxCode(&p)); got != 4 {
		t.Fatalf("slices needed without ClipFormer: got %d, want 4", got)
	}
	c := mustCodec(t, p)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 10000; i++ {
		x := r.NormFloat64() * 3
		if code := clip.Code(&p, x, 1); code>>6 != 0 {
			t.Fatalf("x=%v: code %d has a nonzero digit in slice 3", x, code)
		}
	}
	_ = c
}

// The write noise of one stored value, in code units, has variance
// (gamma sigma_w)^2 (L-1) sum_s L^(2s) d_s (3 sum_s 16^s d_s for 2-bit cells);
// per value, (gamma sigma_w)^2 (2^B-1) c.
func TestWriteNoiseVarianceMatchesTxSimFormula(t *testing.T) {
	for _, gran := range []Granularity{PerSlice, PerValue} {
		for _, perCell := range []bool{false, true} {
			p := Default()
			p.Granularity = gran
			c := mustCodec(t, p)
			const gs = 0.05
			const n = 20000
			for _, code := range []int{1, 2, 3, 4, 17, 62, 128, 200, 255} {
				want := gs * gs * analyticWriteVar(p, code)
				src := make([]float32, n)
				for i := range src {
					src[i] = float32(code) / 255 // scale 1: exactly this code
				}
				eff := make([]float32, n)
				var q []float32
				if perCell {
					q = make([]float32, n)
				}
				c.Write(eff, q, src, 1, ClipFormer{}, gs, keyrand.New(keyrand.Key{Seed: uint64(code), Kind: keyrand.WriteK}))
				var m, v float64
				for _, e := range eff {
					m += float64(e) * 255
				}
				m /= n
				for _, e := range eff {
					d := float64(e)*255 - m
					v += d * d
				}
				v /= n - 1
				// Sample mean and variance of n Gaussians: 5 standard errors.
				if math.Abs(m-float64(code)) > 5*math.Sqrt(want/n) {
					t.Errorf("%s perCell=%v code %d: mean %v, want %d", gran, perCell, code, m, code)
				}
				if math.Abs(v-want) > 5*want*math.Sqrt(2.0/n) {
					t.Errorf("%s perCell=%v code %d: variance %v, want %v", gran, perCell, code, v, want)
				}
			}
		}
	}
}

func analyticWriteVar(p Profile, code int) float64 {
	if p.Granularity == PerValue {
		return float64(p.MaxCode() * code)
	}
	var v float64
	for s := 0; s < p.Slices(); s++ {
		d := float64(code >> (2 * s) & 3)
		v += 3 * math.Pow(16, float64(s)) * d
	}
	return v
}

func TestDigitZeroCellsAreNoiseFree(t *testing.T) {
	p := Default()
	c := mustCodec(t, p)
	// Codes whose digits include zeros: every zero-digit cell must sit at Gmin exactly.
	m := []float32{0, 4.0 / 255, 16.0 / 255, 64.0 / 255, 65.0 / 255, -192.0 / 255, 0}
	a := c.WriteArray(m, 1, len(m), []float32{1}, ClipFormer{}, 0.5, keyrand.New(keyrand.Key{Kind: keyrand.WriteV}))
	for pol := range a.g {
		for s := 0; s < c.slices; s++ {
			for col, x := range m {
				code := ClipFormer{}.Code(&p, float64(x), 1)
				d := code >> (2 * s) & 3
				active := (pol == 0) == (x > 0)
				g := a.g[pol][s*len(m)+col]
				if (!active || d == 0) && g != p.Gmin {
					t.Errorf("polarity %d slice %d value %v (code %d, digit %d): G = %v, want exactly Gmin", pol, s, x, code, d, g)
				}
				if active && d != 0 && g == p.Gmin+float64(d)*p.Delta() {
					t.Errorf("polarity %d slice %d value %v: digit %d cell got no noise", pol, s, x, d)
				}
			}
		}
	}
	// And the fast path never draws for a zero code.
	eff := make([]float32, 3)
	c.Write(eff, nil, []float32{0, 0, 0}, 1, ClipFormer{}, 10, nil)
	for i, e := range eff {
		if e != 0 {
			t.Errorf("zero code %d: effective value %v, want 0", i, e)
		}
	}
}

// fastMVM is the fast path for one input vector: y = x_q M_eff (+ read noise).
func fastMVM(c *Codec, m []float32, R, C int, scale []float32, clip ClipFormer, gs float64, x []float32, sigmaR float64, wr, rd *keyrand.Stream) []float64 {
	eff := make([]float32, R*C)
	var q []float32
	if sigmaR > 0 {
		q = make([]float32, R*C)
	}
	// Column scales: write column by column, as a per-column weight scale does.
	col := make([]float32, R)
	ecol := make([]float32, R)
	qcol := make([]float32, R)
	for j := 0; j < C; j++ {
		for i := 0; i < R; i++ {
			col[i] = m[i*C+j]
		}
		s := scale[0]
		if len(scale) > 1 {
			s = scale[j]
		}
		var qc []float32
		if q != nil {
			qc = qcol
		}
		c.Write(ecol, qc, col, s, clip, gs, wr)
		for i := 0; i < R; i++ {
			eff[i*C+j] = ecol[i]
			if q != nil {
				q[i*C+j] = qcol[i]
			}
		}
	}
	xq := make([]float32, R)
	c.QuantizeRows(xq, x, 1, R)
	y := make([]float64, C)
	for j := 0; j < C; j++ {
		var s, v float64
		for i := 0; i < R; i++ {
			s += float64(xq[i]) * float64(eff[i*C+j])
			if q != nil {
				v += float64(xq[i]) * float64(xq[i]) * float64(q[i*C+j])
			}
		}
		if q != nil {
			s += sigmaR * math.Sqrt(v) * rd.Norm()
		}
		y[j] = s
	}
	return y
}

func testMatrix(R, C int) ([]float32, []float32) {
	r := rand.New(rand.NewPCG(5, 6))
	m := make([]float32, R*C)
	for i := range m {
		m[i] = float32(r.NormFloat64())
	}
	x := make([]float32, R)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return m, x
}

func TestFastPathEqualsReferencePathWithoutNoise(t *testing.T) {
	const R, C = 70, 6 // two row tiles
	m, x := testMatrix(R, C)
	for _, gran := range []Granularity{PerSlice, PerValue} {
		for _, clip := range []ClipFormer{{}, {true, 2, 0.25}} {
			p := Default()
			p.Granularity = gran
			c := mustCodec(t, p)
			scale := []float32{MaxAbs(m) * 0.8} // some values saturate
			a := c.WriteArray(m, R, C, scale, clip, 0, nil)
			ref := make([]float64, C)
			a.MVM(ref, x, 0, nil, nil)
			got := fastMVM(c, m, R, C, scale, clip, 0, x, 0, nil, nil)
			for j := range ref {
				// Same integer codes on both paths; only float rounding differs.
				if math.Abs(ref[j]-got[j]) > 1e-5*(1+math.Abs(ref[j])) {
					t.Errorf("%s %v: y[%d] reference %v fast %v", gran, clip, j, ref[j], got[j])
				}
			}
		}
	}
}

// The fast path must be exact in distribution: for every option it serves,
// the means and variances of its outputs match the explicit reference path
// within sampling error.
func TestFastPathMatchesReferencePathStatistically(t *testing.T) {
	const R, C = 70, 4
	const trials = 3000
	m, x := testMatrix(R, C)
	type option struct {
		gran   Granularity
		clip   ClipFormer
		sigmaR float64
		clamp  bool
		perCol bool
	}
	var opts []option
	for _, gran := range []Granularity{PerSlice, PerValue} {
		for _, clip := range []ClipFormer{{}, {true, 2, 0.25}} {
			for _, sr := range []float64{0, 0.05} {
				opts = append(opts, option{gran, clip, sr, false, false})
			}
		}
		opts = append(opts, option{gran, ClipFormer{}, 0, true, false}, option{gran, ClipFormer{true, 1, 1}, 0.05, true, true})
	}
	for _, o := range opts {
		name := fmt.Sprintf("%s/%v/sigma_r=%g/clamp=%v/percol=%v", o.gran, o.clip, o.sigmaR, o.clamp, o.perCol)
		t.Run(name, func(t *testing.T) {
			p := Default()
			p.Granularity = o.gran
			p.ClampNegative = o.clamp
			c := mustCodec(t, p)
			scale := []float32{MaxAbs(m)}
			if o.perCol {
				scale = make([]float32, C)
				for j := range scale {
					for i := 0; i < R; i++ {
						scale[j] = max(scale[j], abs32(m[i*C+j]))
					}
				}
			}
			gs := 0.3 // large, so clamping and per-slice structure matter
			var fast, ref [C][]float64
			y := make([]float64, C)
			for tr := 0; tr < trials; tr++ {
				k := keyrand.Key{Trial: tr}
				k.Kind = keyrand.WriteK
				wr := keyrand.New(k)
				k.Kind = keyrand.ReadQK
				rd := keyrand.New(k)
				f := fastMVM(c, m, R, C, scale, o.clip, gs, x, o.sigmaR, wr, rd)
				k.Seed = 1
				k.Kind = keyrand.WriteK
				wr = keyrand.New(k)
				k.Kind = keyrand.ReadQK
				rd = keyrand.New(k)
				a := c.WriteArray(m, R, C, scale, o.clip, gs, wr)
				a.MVM(y, x, o.sigmaR, rd, nil)
				for j := 0; j < C; j++ {
					fast[j] = append(fast[j], f[j])
					ref[j] = append(ref[j], y[j])
				}
			}
			for j := 0; j < C; j++ {
				mf, vf := meanVar(fast[j])
				mr, vr := meanVar(ref[j])
				// 5 standard errors: 4 outputs x 12 options stay far from a false alarm.
				if se := math.Sqrt(vf/trials + vr/trials); math.Abs(mf-mr) > 5*se {
					t.Errorf("y[%d]: fast mean %v, reference mean %v (standard error %v)", j, mf, mr, se)
				}
				// The outputs are not Gaussian here (clamping; Q depends on the
				// noisy cells), so each sample variance's standard error comes
				// from its own fourth moment, not from 2 sigma^4/(n-1).
				if se := math.Sqrt(varianceSE2(fast[j]) + varianceSE2(ref[j])); math.Abs(vf-vr) > 5*se {
					t.Errorf("y[%d]: fast variance %v, reference variance %v (standard error %v)", j, vf, vr, se)
				}
			}
		})
	}
}

// varianceSE2 is the squared standard error of the sample variance of v,
// for any distribution with a finite fourth moment:
// Var(s^2) = (mu4 - sigma^4 (n-3)/(n-1)) / n, with the sample's central
// moments for mu4 and sigma^2 (2 sigma^4/(n-1) for a Gaussian).
func varianceSE2(v []float64) float64 {
	m, _ := meanVar(v)
	var m2, m4 float64
	for _, x := range v {
		d := (x - m) * (x - m)
		m2 += d
		m4 += d * d
	}
	n := float64(len(v))
	m2 /= n
	m4 /= n
	return (m4 - m2*m2*(n-3)/(n-1)) / n
}

func meanVar(v []float64) (float64, float64) {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, s / float64(len(v)-1)
}

func TestADCQuantisesAndSaturates(t *testing.T) {
	const R, C = 70, 3
	m, x := testMatrix(R, C)
	p := Default()
	exact := mustCodec(t, p).WriteArray(m, R, C, []float32{MaxAbs(m)}, ClipFormer{}, 0, nil)
	want := make([]float64, C)
	exact.MVM(want, x, 0, nil, nil)
	var prevErr float64 = math.Inf(1)
	for _, bits := range []int{4, 8, 12} {
		p.ADCBits = bits
		a := mustCodec(t, p).WriteArray(m, R, C, []float32{MaxAbs(m)}, ClipFormer{}, 0, nil)
		got := make([]float64, C)
		a.MVM(got, x, 0, nil, nil)
		var e float64
		for j := range got {
			e += math.Abs(got[j] - want[j])
		}
		if e >= prevErr && e > 0 {
			t.Errorf("ADC %d bits: error %v did not shrink from %v", bits, e, prevErr)
		}
		prevErr = e
	}
	if prevErr > 0.05*MaxAbsF64(want) {
		t.Errorf("12-bit ADC error %v is too large against outputs of size %v", prevErr, MaxAbsF64(want))
	}

	// Saturation: every stored value at the top code (+s in column 0, -s in
	// column 1), every input at +1, and every active cell pushed one level
	// above Gmax, as strong write noise may. Each conversion of a tile of n
	// rows then reads +-4n steps (n cells 4 steps above Gmin) against a full
	// scale of +-3n: the ADC clips every one of them to +-3n, and the
	// shift-added result is exactly the full-scale output +-R s_x s, where an
	// ideal ADC reads 4/3 of it.
	const rows = 70 // two row tiles, the second of 6 rows
	full := make([]float32, rows*2)
	for i := 0; i < rows; i++ {
		full[2*i], full[2*i+1] = 1, -1
	}
	ones := make([]float32, rows)
	for i := range ones {
		ones[i] = 1
	}
	p.ADCBits = 8
	sat := mustCodec(t, p).WriteArray(full, rows, 2, []float32{1}, ClipFormer{}, 0, nil)
	for pol := range sat.g {
		for i, g := range sat.g[pol] {
			if g > p.Gmin { // the active polarity's cells, all at digit 3 = Gmax
				sat.g[pol][i] = g + p.Delta()
			}
		}
	}
	ideal := *sat
	ideal.c = mustCodec(t, Default())
	gotSat, gotIdeal := make([]float64, 2), make([]float64, 2)
	sat.MVM(gotSat, ones, 0, nil, nil)
	ideal.MVM(gotIdeal, ones, 0, nil, nil)
	for j, sign := range []float64{1, -1} {
		// Every term is an integer count of steps times powers of two: exact.
		if want := sign * rows; gotSat[j] != want {
			t.Errorf("saturating column %d: ADC output %v, want the full-scale %v", j, gotSat[j], want)
		}
		if want := sign * rows * 4 / 3; math.Abs(gotIdeal[j]-want) > 1e-9*rows {
			t.Errorf("column %d beyond full scale: ideal-ADC output %v, want %v", j, gotIdeal[j], want)
		}
	}
}

func MaxAbsF64(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

// The hoisted coder equals the spec's literal steps: u = min(|x|/s, 1),
// g = Gmin + span u, ClipFormer, code = round((g - Gmin)/span (2^B - 1)).
func TestCodeFollowsTheMappingSteps(t *testing.T) {
	p := Default()
	r := rand.New(rand.NewPCG(3, 3))
	for _, clip := range []ClipFormer{{}, {true, 2, 0.25}, {true, 1, 1}, {true, 4, 0.125}} {
		for i := 0; i < 20000; i++ {
			s := 0.1 + r.Float64()*5
			x := r.NormFloat64() * s
			span := p.Gmax - p.Gmin
			g := clip.Transform(p.Gmin+span*min(math.Abs(x)/s, 1), &p)
			want := int(math.Round((g - p.Gmin) / span * 255))
			if got := clip.Code(&p, x, s); got != want {
				// Multiplying by 1/s instead of dividing by s could in principle flip a tie; these seeds show none.
				t.Fatalf("%v x=%v s=%v: code %d, literal steps %d", clip, x, s, got, want)
			}
		}
	}
}

func TestInputCodeRoundsHalfToEven(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for i := 0; i < 200000; i++ {
		v := float32(r.NormFloat64())
		k := float32(255 / (0.1 + r.Float64()*3))
		if i%7 == 0 {
			v = float32(r.IntN(511)-255) / 2 / k // exact ties
		}
		want := float32(math.RoundToEven(float64(v * k)))
		if got := inputCode(v, k); got != want {
			t.Fatalf("inputCode(%v, %v) = %v, want %v", v, k, got, want)
		}
	}
}

func TestBranchFreeMinMaxMatchComparisons(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for i := 0; i < 100000; i++ {
		a := r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10))
		b := r.Float64()*10 + 1e-300
		if i%10 == 0 {
			a = 0
		}
		if got, want := minPos(a, b), math.Min(a, b); got != want {
			t.Fatalf("minPos(%v, %v) = %v, want %v", a, b, got, want)
		}
		if got, want := maxPos(a, b), math.Max(a, b); got != want {
			t.Fatalf("maxPos(%v, %v) = %v, want %v", a, b, got, want)
		}
	}
}

// The vectorised code computation gives exactly the scalar coder's codes,
// under every kernel level this CPU has (AVX-512, AVX2, pure Go).
func TestVectorCodesEqualScalarCodes(t *testing.T) {
	levels := linalg.Available()
	if len(levels) == 1 {
		t.Skip("this CPU has no vector kernels, so codes runs the scalar coder and there is nothing to compare")
	}
	for _, l := range levels {
		t.Run(l.String(), func(t *testing.T) {
			restore, err := linalg.UseKernels(l)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			testCodesEqualScalarCodes(t)
		})
	}
}

func testCodesEqualScalarCodes(t *testing.T) {
	p := Default()
	r := rand.New(rand.NewPCG(9, 9))
	src := make([]float32, 1003)
	for i := range src {
		src[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(6)-3)))
	}
	src[0], src[1], src[2] = 0, float32(math.Copysign(0, -1)), 1e30
	src[3], src[4], src[5] = float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())
	for _, clip := range []ClipFormer{{}, {true, 2, 0.25}, {true, 1, 1}, {true, 5, 0.011}} {
		for _, s := range []float64{1e-3, 0.7, 3, 1e4} {
			cd := newCoder(&p, s, clip)
			got := make([]int32, len(src))
			want := make([]int32, len(src))
			for _, n := range []int{len(src), 1, 3, 4, 5, 7, 8, 9} {
				cd.codes(got[:n], src[:n])
				cd.codesGo(want[:n], src[:n])
				for i := 0; i < n; i++ {
					if got[i] != want[i] {
						t.Fatalf("%s: %v scale %v x=%v: vector code %d, scalar %d", linalg.Kernels(), clip, s, src[i], got[i], want[i])
					}
				}
			}
		}
	}
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// An Array is read-only after WriteArray: goroutines with their own Scratch
// may read it at once and get the bits of a serial read (run under -race).
func TestArrayMVMIsSafeForConcurrentReaders(t *testing.T) {
	const R, C = 70, 5
	m, x := testMatrix(R, C)
	p := Default()
	p.ADCBits = 6
	a := mustCodec(t, p).WriteArray(m, R, C, []float32{MaxAbs(m)}, ClipFormer{}, 0.2, keyrand.New(keyrand.Key{Kind: keyrand.WriteK}))
	read := func(sc *Scratch) []float64 {
		y := make([]float64, C)
		a.MVM(y, x, 0.05, keyrand.New(keyrand.Key{Kind: keyrand.ReadQK}), sc)
		return y
	}
	want := read(nil)
	got := make([][]float64, 4)
	var wg sync.WaitGroup
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc Scratch
			for range 3 { // the second and later reads reuse grown buffers
				got[g] = read(&sc)
			}
		}()
	}
	wg.Wait()
	for g, y := range got {
		for j := range y {
			if math.Float64bits(y[j]) != math.Float64bits(want[j]) {
				t.Fatalf("goroutine %d y[%d]: %v, serial read %v", g, j, y[j], want[j])
			}
		}
	}
}
