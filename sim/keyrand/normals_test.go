package keyrand

import (
	"math"
	"testing"

	"github.com/clipformer/clipformer/sim/linalg"
)

// The AVX-512 and AVX2 kernels and the pure-Go twin give the same bits for
// many keys and steps (the AVX-512 kernel's skipped tail included: about one
// vector in twenty needs it), and leave the same state.
func TestNormalKernelsGiveTheSameBits(t *testing.T) {
	levels := linalg.Available()[1:]
	if len(levels) == 0 {
		t.Skip("the CPU runs no vector kernels: only the Go twin exists here")
	}
	for _, l := range levels {
		restore, _ := linalg.UseKernels(l)
		for seed := uint64(0); seed < 50; seed++ {
			g := NewNormals(Key{Seed: seed, Image: int(seed), Kind: ReadQK})
			ref := *g
			const steps = 257
			got := make([]float32, steps*normalLanes)
			want := make([]float32, steps*normalLanes)
			normalSteps(&g.state, got)
			normalsGo(&ref.state, want)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					restore()
					t.Fatalf("level %s, seed %d, draw %d: kernel %g (%#08x), Go %g (%#08x)", l, seed, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
			if g.state != ref.state {
				restore()
				t.Fatalf("level %s, seed %d: the kernel leaves another state than the Go twin", l, seed)
			}
		}
		restore()
	}
}

// normalOf's extremes: the largest output magnitude, zero, and the sign bit.
func TestNormalOfEdges(t *testing.T) {
	for _, u := range []uint32{0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000} {
		var got [16]float32
		var want float32
		q := (float64(u&0x7fffffff) + 0.5) / (1 << 31)
		want = float32(math.Sqrt2 * math.Erfinv(1-q))
		if u>>31 == 1 {
			want = -want
		}
		got[0] = normalOf(u)
		tol := 2e-6
		if math.Abs(float64(want)) > 5 {
			tol = 1e-3 // the approximation's far tail, below 6e-7 probability
		}
		if d := math.Abs(float64(got[0] - want)); d > tol*math.Max(1, math.Abs(float64(want))) {
			t.Errorf("normalOf(%#08x) = %g, want %g", u, got[0], want)
		}
	}
}

// The inverse distribution function is accurate over the whole range: at
// 2^20 evenly spread outputs, within 2e-6 relative (absolute below 0.5) of
// float64's erfinv of the same probability up to |z| = 5, and within 1e-3
// in the far tail beyond (probability 6e-7), where Giles's approximation
// was not made for arguments this close to 1.
func TestNormalOfIsTheInverseDistribution(t *testing.T) {
	worst, worstTail := 0.0, 0.0
	for i := uint32(0); i < 1<<20; i++ {
		u := i<<11 | i>>9 // spread over the 31 magnitude bits, small ones included
		q := float64(float32(float32(int32(u&0x7fffffff))*0x1p-31) + 0x1p-32)
		want := math.Sqrt2 * math.Erfinv(1-q)
		got := float64(normalOf(u))
		e := math.Abs(got-want) / math.Max(math.Abs(want), 0.5)
		if math.Abs(want) > 5 {
			worstTail = max(worstTail, e)
		} else {
			worst = max(worst, e)
		}
	}
	if worst > 2e-6 || worstTail > 1e-3 {
		t.Fatalf("largest relative error %g up to |z| = 5, %g beyond", worst, worstTail)
	}
	t.Logf("largest relative error %g up to |z| = 5, %g beyond", worst, worstTail)
}

// Fill and Norm give one sequence however the draws are taken.
func TestNormalsSequenceIsIndependentOfHowItIsTaken(t *testing.T) {
	k := Key{Seed: 3, Trial: 1, Image: 9, Kind: ReadAV}
	want := make([]float32, 5000)
	NewNormals(k).Fill(want)
	g := NewNormals(k)
	var got []float32
	for i, n := 0, 1; len(got) < len(want); i, n = i+1, n*3%97+1 {
		if i%3 == 0 {
			got = append(got, float32(g.Norm()))
			continue
		}
		part := make([]float32, min(n, len(want)-len(got)))
		g.Fill(part)
		got = append(got, part...)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("draw %d: %g taken in pieces, %g in one Fill", i, got[i], want[i])
		}
	}
	g.Reset(k)
	if x := g.Norm(); float32(x) != want[0] {
		t.Fatalf("after Reset: %g, want %g", x, want[0])
	}
	if x := NewNormals(Key{Seed: 4, Trial: 1, Image: 9, Kind: ReadAV}).Norm(); float32(x) == want[0] {
		t.Fatal("another key gives the same first draw")
	}
}

// The draws are standard normal: mean, variance, fourth moment and the
// tail masses beyond 1, 2, 3 and 4, within 5 standard errors, on every
// kernel level.
func TestNormalsAreStandardNormal(t *testing.T) {
	for _, l := range linalg.Available() {
		restore, _ := linalg.UseKernels(l)
		const n = 1 << 21
		x := make([]float32, n)
		NewNormals(Key{Seed: 8, Kind: ReadLinear}).Fill(x)
		restore()
		var m, v, k4 float64
		tails := [4]int{}
		for _, f := range x {
			z := float64(f)
			m += z
			v += z * z
			k4 += z * z * z * z
			for j := range tails {
				if math.Abs(z) > float64(j+1) {
					tails[j]++
				}
			}
		}
		m /= n
		v /= n
		k4 /= n
		if math.Abs(m) > 5*math.Sqrt(1.0/n) || math.Abs(v-1) > 5*math.Sqrt(2.0/n) || math.Abs(k4-3) > 5*math.Sqrt(96.0/n) {
			t.Errorf("level %s: mean %g, variance %g, fourth moment %g", l, m, v, k4)
		}
		for j, c := range tails {
			p := math.Erfc(float64(j+1) / math.Sqrt2)
			if got := float64(c) / n; math.Abs(got-p) > 5*math.Sqrt(p*(1-p)/n) {
				t.Errorf("level %s: P(|z| > %d) = %g, want %g", l, j+1, got, p)
			}
		}
	}
}

// BenchmarkNormalsFill is Normals.Fill per draw, on each kernel level.
func BenchmarkNormalsFill(b *testing.B) {
	for _, l := range linalg.Available() {
		b.Run(l.String(), func(b *testing.B) {
			restore, _ := linalg.UseKernels(l)
			defer restore()
			g := NewNormals(Key{})
			x := make([]float32, 4096)
			for i := 0; i < b.N; i += len(x) {
				g.Fill(x)
			}
		})
	}
}
