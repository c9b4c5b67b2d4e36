package linalg

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// intKernelSets are the integer kernel families this CPU can run, the
// pure-Go twin first.
func intKernelSets() []intKernelSet {
	sets := []intKernelSet{genericIntKernels}
	for _, name := range []string{"avx512vnni", "avx2"} {
		if s, ok := archIntKernels(name); ok {
			sets = append(sets, s)
		}
	}
	return sets
}

// randCodes draws n codes in [-mx, mx], a tenth of them at +-mx.
func randCodes(r *rand.Rand, n, mx int) []int16 {
	s := make([]int16, n)
	for i := range s {
		v := r.IntN(2*mx+1) - mx
		if r.IntN(10) == 0 {
			v = mx * (1 - 2*r.IntN(2))
		}
		s[i] = int16(v)
	}
	return s
}

// refIntProduct is the plain int64 loop.
func refIntProduct(m, n, k int, a []int16, lda int, b []int16) []int64 {
	c := make([]int64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for p := 0; p < k; p++ {
				s += int64(a[i*lda+p]) * int64(b[p*n+j])
			}
			c[i*n+j] = s
		}
	}
	return c
}

func TestPackedInt16HoldsEveryElement(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	var p PackedInt16
	for _, k := range []int{1, 2, 3, 64, 197} {
		for _, n := range []int{1, 15, 16, 17, 63, 64, 65, 80, 129, 197} {
			src := randCodes(r, k*n, 255)
			p.Pack(src, n, k, n)
			if p.KPad%2 != 0 || p.KPad < k || p.NPad%IntTail != 0 || p.NPad < n || p.MaxAbs > 255 {
				t.Fatalf("k %d n %d: padded to %d x %d, max %d", k, n, p.KPad, p.NPad, p.MaxAbs)
			}
			seen := 0
			for r := 0; r < p.KPad; r++ {
				for j := 0; j < p.NPad; j++ {
					want := int16(0)
					if r < k && j < n {
						want = src[r*n+j]
					}
					if got := p.At(r, j); got != want {
						t.Fatalf("k %d n %d: (%d, %d) = %d, want %d", k, n, r, j, got, want)
					}
					if want != 0 {
						seen++
					}
				}
			}
			// Row by row in segments of random lengths, the same layout.
			var q PackedInt16
			q.Reset(k, n)
			for r := 0; r < k; r++ {
				for j := 0; j < n; {
					seg := min(n-j, 1+rand.IntN(70))
					q.SetRow(r, j, src[r*n+j:r*n+j+seg])
					j += seg
				}
			}
			if q.MaxAbs != p.MaxAbs || len(q.Data) != len(p.Data) {
				t.Fatalf("k %d n %d: SetRow gives max %d and %d codes, Pack %d and %d", k, n, q.MaxAbs, len(q.Data), p.MaxAbs, len(p.Data))
			}
			for i := range q.Data {
				if q.Data[i] != p.Data[i] {
					t.Fatalf("k %d n %d: SetRow and Pack differ at %d", k, n, i)
				}
			}
			nonzero := 0
			for _, v := range p.Data {
				if v != 0 {
					nonzero++
				}
			}
			if nonzero != seen {
				t.Fatalf("k %d n %d: %d nonzero codes stored, %d in the matrix", k, n, nonzero, seen)
			}
		}
	}
}

// SetSignedPairs, with every kernel family, lays out signed magnitudes
// as Pack lays out the signed codes: odd row counts, segments across panel
// boundaries, -0 and negative signs, the largest codes.
func TestSetSignedPairsLaysOutAsPack(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	saved := intKernels
	defer func() { intKernels = saved }()
	for _, set := range intKernelSets() {
		intKernels = set
		for _, sh := range []struct{ k, n int }{{1, 1}, {3, 17}, {64, 197}, {197, 64}, {5, 300}} {
			mags := make([]int32, sh.k*sh.n)
			signs := make([]float32, sh.k*sh.n)
			src := make([]int16, sh.k*sh.n)
			for i := range mags {
				mags[i] = int32(r.IntN(256))
				if i%7 == 0 {
					mags[i] = math.MaxInt16
				}
				signs[i] = float32(r.NormFloat64())
				if i%11 == 0 {
					signs[i] = float32(math.Copysign(0, -1))
				}
				src[i] = int16(mags[i])
				if math.Signbit(float64(signs[i])) {
					src[i] = -src[i]
				}
			}
			var want, got PackedInt16
			want.Pack(src, sh.n, sh.k, sh.n)
			got.Reset(sh.k, sh.n)
			for row := 0; row < sh.k; row += 2 {
				for j := 0; j < sh.n; {
					seg := min(sh.n-j, 1+r.IntN(100))
					e := row*sh.n + j
					var odd []int32
					var so []float32
					if row+1 < sh.k {
						odd, so = mags[e+sh.n:e+sh.n+seg], signs[e+sh.n:e+sh.n+seg]
					}
					got.SetSignedPairs(row, j, mags[e:e+seg], odd, signs[e:e+seg], so, math.MaxInt16)
					j += seg
				}
			}
			if got.MaxAbs != math.MaxInt16 || len(got.Data) != len(want.Data) {
				t.Fatalf("%s %+v: bound %d, %d codes; want %d, %d", set.name, sh, got.MaxAbs, len(got.Data), math.MaxInt16, len(want.Data))
			}
			for i := range got.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("%s %+v: code %d is %d, Pack gives %d", set.name, sh, i, got.Data[i], want.Data[i])
				}
			}
		}
	}
}

// Every integer kernel gives the exact product, hence the same bits as the
// pure-Go twin, for odd sizes, row and column tails and the largest codes.
func TestIntKernelsGiveTheExactProduct(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	type shape struct{ m, n, k, mx int }
	shapes := []shape{{1, 1, 1, 255}, {3, 17, 5, 255}, {4, 64, 2, 255}, {5, 65, 3, 255}, {7, 80, 64, 255},
		{9, 15, 197, 255}, {197, 197, 64, 255}, {13, 129, 384, 255}, {6, 208, 1536, 255},
		{5, 33, 2, math.MaxInt16}, {2, 16, 7, 1}}
	for _, set := range intKernelSets() {
		for _, s := range shapes {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", set.name, s.m, s.n, s.k), func(t *testing.T) {
				var b PackedInt16
				src := randCodes(r, s.k*s.n, s.mx)
				b.Pack(src, s.n, s.k, s.n)
				lda := b.KPad + 2 // a stride wider than the row
				a := randCodes(r, s.m*lda, s.mx)
				for i := 0; i < s.m; i++ {
					if s.k%2 == 1 {
						a[i*lda+s.k] = 0
					}
				}
				got := intSums(set, s.m, a, lda, &b)
				want := refIntProduct(s.m, s.n, s.k, a, lda, src)
				for i := 0; i < s.m; i++ {
					for j := 0; j < b.NPad; j++ {
						var w int64
						if j < s.n {
							w = want[i*s.n+j]
						}
						if got[i*b.NPad+j] != w {
							t.Fatalf("c[%d,%d] = %d, want %d", i, j, got[i*b.NPad+j], w)
						}
					}
				}
			})
		}
	}
}

// intSums runs a kernel family's tiles over a b and collects the exact sums
// (m x b.NPad), checking that every tile is emitted exactly once.
func intSums(set intKernelSet, m int, a []int16, lda int, b *PackedInt16) []int64 {
	c := make([]int64, m*b.NPad)
	seen := make([]int, m*b.NPad)
	set.tiles(m, a, lda, b, func(i, rows, j0, w int, t []int32) {
		for r := 0; r < rows; r++ {
			for j := 0; j < w; j++ {
				c[(i+r)*b.NPad+j0+j] = int64(t[r*IntPanel+j])
				seen[(i+r)*b.NPad+j0+j]++
			}
		}
	})
	for i, n := range seen {
		if n != 1 {
			panic(fmt.Sprintf("%s: sum %d emitted %d times", set.name, i, n))
		}
	}
	return c
}

// Sums next to the int32 limits: the largest codes, all of one sign.
func TestIntKernelsReachTheInt32Limits(t *testing.T) {
	const mx = math.MaxInt16
	k := 2 // 2 mx^2 = 2147352578 <= MaxInt32
	if !IntProductFits(k, mx, mx) || IntProductFits(k+1, mx, mx) {
		t.Fatalf("IntProductFits disagrees with 2 x %d^2 <= MaxInt32 < 3 x %d^2", mx, mx)
	}
	for _, set := range intKernelSets() {
		for _, sign := range []int16{1, -1} {
			var b PackedInt16
			src := make([]int16, k*20)
			for i := range src {
				src[i] = mx
			}
			b.Pack(src, 20, k, 20)
			a := make([]int16, 3*b.KPad)
			for i := range a {
				a[i] = sign * mx
			}
			c := intSums(set, 3, a, b.KPad, &b)
			for i := 0; i < 3; i++ {
				for j := 0; j < 20; j++ {
					if want := int64(sign) * 2 * mx * mx; c[i*b.NPad+j] != want {
						t.Fatalf("%s sign %d: c[%d,%d] = %d, want %d", set.name, sign, i, j, c[i*b.NPad+j], want)
					}
				}
			}
		}
	}
}

// MatMulInt16 scales each exact sum by its row's and column's units and
// rounds once, with every kernel family, per-column and shared units, and
// writes nothing outside the m x n block of dst.
func TestMatMulInt16ScalesTheExactSums(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	saved := intKernels
	defer func() { intKernels = saved }()
	for _, set := range intKernelSets() {
		intKernels = set
		for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {6, 83, 9}, {197, 197, 64}, {5, 130, 197}} {
			var b PackedInt16
			src := randCodes(r, s.k*s.n, 255)
			b.Pack(src, s.n, s.k, s.n)
			a := randCodes(r, s.m*b.KPad, 255)
			if s.k%2 == 1 {
				for i := 0; i < s.m; i++ {
					a[i*b.KPad+s.k] = 0
				}
			}
			exact := refIntProduct(s.m, s.n, s.k, a, b.KPad, src)
			ru := make([]float64, s.m)
			for i := range ru {
				ru[i] = r.ExpFloat64() / 255
			}
			cu := make([]float64, s.n)
			for j := range cu {
				cu[j] = r.ExpFloat64() / 255
			}
			for _, cols := range [][]float64{cu, cu[:1]} {
				ldd := s.n + 3
				dst := make([]float32, s.m*ldd)
				for i := range dst {
					dst[i] = -1
				}
				if err := MatMulInt16(s.m, a, b.KPad, &b, dst, ldd, ru, cols, 255); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < s.m; i++ {
					for j := 0; j < ldd; j++ {
						want := float32(-1)
						if j < s.n {
							want = float32(float64(exact[i*s.n+j]) * ru[i] * cols[min(j, len(cols)-1)])
						}
						if got := dst[i*ldd+j]; math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s %+v, %d column units: dst[%d,%d] = %v, want %v", set.name, s, len(cols), i, j, got, want)
						}
					}
				}
			}
		}
	}
}

func TestMatMulInt16RefusesWhatCouldOverflow(t *testing.T) {
	var b PackedInt16
	b.Pack([]int16{255, -255, 3}, 1, 3, 1)
	a := make([]int16, b.KPad)
	dst, units := make([]float32, 1), []float64{1}
	if err := MatMulInt16(1, a, b.KPad, &b, dst, 1, units, units, 255); err != nil {
		t.Fatalf("255 x 255 x 3: %v", err)
	}
	b.Pack(make([]int16, 40000), 1, 40000, 1)
	b.MaxAbs = 255
	a = make([]int16, b.KPad)
	if err := MatMulInt16(1, a, b.KPad, &b, dst, 1, units, units, 255); !errors.Is(err, ErrIntOverflow) {
		t.Fatalf("k 40000 x 255 x 255: got %v, want ErrIntOverflow", err)
	}
	if err := MatMulInt16(1, a, b.KPad, &b, dst, 1, units, units, 1<<15); !errors.Is(err, ErrIntOverflow) {
		t.Fatalf("|a| 32768 does not fit int16: got %v", err)
	}
}

// Every conversion kernel rounds as the pure-Go twin, for 1 to 32 rows,
// every width of a tile, per-column and shared column units, and writes
// nothing else.
func TestScaleTileKernelsGiveTheSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const maxRows = 32
	tile := make([]int32, maxRows*IntPanel)
	for i := range tile {
		tile[i] = int32(r.Uint32())
	}
	tile[0], tile[1], tile[2] = math.MaxInt32, math.MinInt32, 0
	cu := make([]float64, IntPanel)
	for i := range cu {
		cu[i] = r.ExpFloat64() / 255
	}
	ru := make([]float64, maxRows)
	const ldd = IntPanel + 5
	for _, set := range intKernelSets()[1:] {
		for _, cols := range [][]float64{cu, cu[:1]} {
			for _, rows := range []int{1, 2, 3, 4, 5, 17, 32} {
				for n := 1; n <= IntPanel; n++ {
					for i := range ru {
						ru[i] = r.ExpFloat64() / 255
					}
					c := cols
					if len(c) != 1 {
						c = c[:n]
					}
					want, got := make([]float32, maxRows*ldd), make([]float32, maxRows*ldd)
					for i := range got {
						want[i], got[i] = -1, -1
					}
					scaleTileGo(want, ldd, tile, rows, n, ru[:rows], c)
					set.scaleTile(got, ldd, tile, rows, n, ru[:rows], c)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %d rows x %d columns, %d column units: [%d] = %v, want %v", set.name, rows, n, len(c), i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// Rounding to int16 codes is round half to even of the float32 product, in
// every kernel and every tail length.
func TestRoundInt16KernelsRoundHalfToEven(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n = 77
	x := make([]float32, n)
	for i := range x {
		switch i % 4 {
		case 0: // exact halves, both signs
			x[i] = float32(r.IntN(600)-300) + 0.5
		case 1:
			x[i] = float32(r.NormFloat64() * 100)
		default:
			x[i] = float32(r.Float64()*2-1) * 255
		}
	}
	x[1], x[2], x[3] = 32767, -32767, 0
	for _, k := range []float32{1, 255 / 3.7} {
		xk := append([]float32(nil), x...)
		if k != 1 { // values within +-3.7, so that x k is within +-255
			for i := range xk {
				xk[i] = float32(math.Mod(float64(xk[i]), 3.7))
			}
		}
		for _, set := range intKernelSets() {
			for length := 1; length <= n; length++ {
				xs := xk[:length]
				got := make([]int16, length+1)
				got[length] = 99
				set.round(got[:length], xs, k)
				for i, v := range xs {
					if want := int16(math.RoundToEven(float64(v * k))); got[i] != want {
						t.Fatalf("%s k %v length %d: round(%v) = %d, want %d", set.name, k, length, v*k, got[i], want)
					}
				}
				if got[length] != 99 {
					t.Fatalf("%s length %d: wrote past the end", set.name, length)
				}
			}
		}
	}
}

func TestKernelsEnvIsCheckedForTheIntKernels(t *testing.T) {
	for _, v := range []string{"", "auto", "avx2", "generic"} {
		if _, err := IntKernelsFor(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	_, err := IntKernelsFor("avx512")
	if err == nil || !strings.Contains(err.Error(), KernelsEnv) {
		t.Fatalf("avx512: got %v, want an error naming %s", err, KernelsEnv)
	}
}

// The environment variable selects the kernels a process uses; run in a
// child process for each value, which checks IntKernels.
func TestKernelsEnvSelectsTheIntKernels(t *testing.T) {
	if want := os.Getenv("LINALG_WANT_INT_KERNELS"); want != "" {
		if got := IntKernels(); got != want {
			t.Fatalf("%s=%q: int kernels %q, want %q", KernelsEnv, os.Getenv(KernelsEnv), got, want)
		}
		return
	}
	best := "generic"
	if sets := intKernelSets(); len(sets) > 1 {
		best = sets[1].name
	}
	avx2 := "generic"
	if _, ok := archIntKernels("avx2"); ok {
		avx2 = "avx2"
	}
	for env, want := range map[string]string{"auto": best, "avx2": avx2, "generic": "generic"} {
		if got, err := IntKernelsFor(env); got != want || err != nil {
			t.Fatalf("IntKernelsFor(%q) = %q, %v; want %q", env, got, err, want)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestKernelsEnvSelectsTheIntKernels$", "-test.count=1")
		cmd.Env = append(os.Environ(), KernelsEnv+"="+env, "LINALG_WANT_INT_KERNELS="+want)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s=%s: %v\n%s", KernelsEnv, env, err, out)
		}
	}
}
