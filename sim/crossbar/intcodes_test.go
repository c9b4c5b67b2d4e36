package crossbar

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/linalg"
)

// Without noise, a stored value is its signed code times Unit(scale), bit
// for bit the effective value Write stores, and the read-noise variances
// are Write's: for both granularities, ClipFormer on and off, saturating
// and zero scales, per-column scales.
func TestSignedCodesAreWritesNoiseFreeValues(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	src := make([]float32, 700) // over two chunks of 256
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	src[0], src[1], src[2] = 0, float32(math.Copysign(0, -1)), 50 // +-0 and a saturating value
	value := Default()
	value.Granularity = PerValue
	for _, p := range []Profile{Default(), value} {
		c := mustCodec(t, p)
		for _, clip := range []ClipFormer{{}, {On: true, Alpha: 2, Beta: 0.25}} {
			for _, scale := range []float32{2.5, 0.7, 0} {
				eff, q := make([]float32, len(src)), make([]float32, len(src))
				c.Write(eff, q, src, scale, clip, 0, nil)
				codes, q2 := make([]int16, len(src)), make([]float32, len(src))
				c.SignedCodes(codes, q2, src, scale, clip)
				unit := c.Unit(scale)
				for i, code := range codes {
					// == rather than bits: Write keeps the sign of -0, the code 0 has none.
					if got := float32(float64(code) * unit); got != eff[i] {
						t.Fatalf("%s %+v scale %v: x %v: code %d x unit = %v, Write stores %v", p.Granularity, clip, scale, src[i], code, got, eff[i])
					}
					if math.Float32bits(q2[i]) != math.Float32bits(q[i]) {
						t.Fatalf("%s %+v scale %v: x %v: read-noise variance %v, Write gives %v", p.Granularity, clip, scale, src[i], q2[i], q[i])
					}
				}
			}
		}
		// Per-column scales: a 7 x 100 matrix.
		scales := make([]float32, 100)
		for j := range scales {
			scales[j] = float32(0.5 + r.Float64())
		}
		eff := make([]float32, 700)
		c.WriteColumns(eff, nil, src, 100, scales, 0, nil)
		codes := make([]int16, 700)
		c.SignedCodesColumns(codes, nil, src, 100, scales)
		for i, code := range codes {
			if got := float32(float64(code) * c.Unit(scales[i%100])); got != eff[i] {
				t.Fatalf("%s per column: [%d] = %v, WriteColumns stores %v", p.Granularity, i, got, eff[i])
			}
		}
	}
}

// SignedCodesPacked writes the codes and variances of SignedCodes straight
// into the packed layout: odd row counts, rows longer than its chunks.
func TestSignedCodesPackedIsSignedCodesPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 3))
	c := mustCodec(t, Default())
	clip := ClipFormer{On: true, Alpha: 2, Beta: 0.25}
	var got, want linalg.PackedInt16
	for _, sh := range []struct{ rows, cols int }{{64, 197}, {197, 64}, {3, 300}, {1, 1}} {
		m := make([]float32, sh.rows*sh.cols)
		for i := range m {
			m[i] = float32(r.NormFloat64())
		}
		codes, q, q2 := make([]int16, len(m)), make([]float32, len(m)), make([]float32, len(m))
		c.SignedCodes(codes, q, m, 2.5, clip)
		want.Pack(codes, sh.cols, sh.rows, sh.cols)
		got.Reset(7, 9) // a stale shape and content must not leak through
		got.SetRow(0, 0, []int16{255, -255})
		c.SignedCodesPacked(&got, q2, m, sh.rows, sh.cols, 2.5, clip)
		// MaxAbs is a bound: the largest code the profile can store.
		if got.K != want.K || got.N != want.N || got.MaxAbs != 255 || len(got.Data) != len(want.Data) {
			t.Fatalf("%+v: shape %d x %d bound %d, want %d x %d bound 255", sh, got.K, got.N, got.MaxAbs, want.K, want.N)
		}
		for i := range got.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("%+v: packed code %d is %d, want %d", sh, i, got.Data[i], want.Data[i])
			}
		}
		for i := range q {
			if math.Float32bits(q[i]) != math.Float32bits(q2[i]) {
				t.Fatalf("%+v: variance %d is %v, want %v", sh, i, q2[i], q[i])
			}
		}
	}
}

// QuantizeCodes gives the codes that QuantizeRows scales back: code x
// (s/M) in float32 is QuantizeRows's value bit for bit, and units[r] is s/M.
func TestQuantizeCodesAreQuantizeRowsCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 2))
	const rows, n, ld = 6, 77, 80
	x := make([]float32, rows*n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	clear(x[2*n : 3*n]) // an all-zero row
	for i := 4 * n; i < 5*n; i++ {
		x[i] = float32(r.IntN(511)-255) / 255 * 3 // halves of code steps occur
	}
	c := mustCodec(t, Default())
	xq := make([]float32, len(x))
	c.QuantizeRows(xq, x, rows, n)
	codes := make([]int16, rows*ld)
	for i := range codes {
		codes[i] = 99 // padding must be zeroed
	}
	units := make([]float64, rows)
	c.QuantizeCodes(codes, ld, units, x, rows, n)
	for i := 0; i < rows; i++ {
		s := MaxAbs(x[i*n : i*n+n])
		unit32 := s / 255
		if want := float64(s) / 255; units[i] != want {
			t.Fatalf("row %d: unit %v, want %v", i, units[i], want)
		}
		for j := 0; j < ld; j++ {
			code := codes[i*ld+j]
			if j >= n {
				if code != 0 {
					t.Fatalf("row %d: padding column %d holds %d", i, j, code)
				}
				continue
			}
			if got, want := float32(code)*unit32, xq[i*n+j]; math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
				t.Fatalf("row %d col %d: code %d x %v = %v, QuantizeRows gives %v", i, j, code, unit32, got, want)
			}
		}
	}
}

func TestIntegerProductsNeedInt16CodesAndInt32Sums(t *testing.T) {
	c := mustCodec(t, Default())
	if !c.IntegerProducts(1536) || !c.IntegerProducts(33025) || c.IntegerProducts(33026) {
		t.Fatalf("8-bit codes: k 1536 and 33025 fit int32 sums (255^2 k <= 2^31-1), k 33026 does not")
	}
	p := Default()
	p.Precision = 16 // codes up to 65535 do not fit int16
	if mustCodec(t, p).IntegerProducts(1) {
		t.Fatal("16-bit stored codes must not take the int16 kernels")
	}
	p = Default()
	p.InputBits = 16
	if mustCodec(t, p).IntegerProducts(1) {
		t.Fatal("16-bit input codes must not take the int16 kernels")
	}
}
