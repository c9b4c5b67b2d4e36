package linalg

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// CLIPFORMER_KERNELS's values map to levels; an unknown value and a level the
// CPU lacks are errors that name the variable and say what is used instead.
func TestKernelsEnvChoosesTheLevel(t *testing.T) {
	for _, tc := range []struct {
		value      string
		best, want Level
		err        error
	}{
		{"", LevelAVX512, LevelAVX512, nil},
		{"auto", LevelAVX2, LevelAVX2, nil},
		{"avx2", LevelAVX512, LevelAVX2, nil},
		{" AVX2 ", LevelAVX512, LevelAVX2, nil},
		{"avx2", LevelAVX2, LevelAVX2, nil},
		{"generic", LevelAVX512, LevelGeneric, nil},
		{"avx2", LevelGeneric, LevelGeneric, ErrKernelsUnavailable},
		{"avx-2", LevelAVX512, LevelAVX512, ErrUnknownKernels},
		{"avx512", LevelAVX512, LevelAVX512, ErrUnknownKernels},
		{"go", LevelAVX2, LevelAVX2, ErrUnknownKernels},
	} {
		got, err := chooseLevel(tc.value, tc.best)
		if got != tc.want || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("chooseLevel(%q, best %s) = %s, %v; want %s, %v", tc.value, tc.best, got, err, tc.want, tc.err)
			continue
		}
		if err != nil {
			msg := err.Error()
			for _, part := range []string{KernelsEnv, tc.value, tc.want.String()} {
				if !strings.Contains(msg, part) {
					t.Errorf("chooseLevel(%q): message %q does not name %q", tc.value, msg, part)
				}
			}
			if errors.Is(err, ErrUnknownKernels) && !(strings.Contains(msg, "auto") && strings.Contains(msg, "avx2") && strings.Contains(msg, "generic")) {
				t.Errorf("chooseLevel(%q): message %q does not list the allowed values", tc.value, msg)
			}
		}
	}
}

// UseKernels switches the level that the kernels dispatch on and restores
// the previous one; a level this CPU lacks is refused.
func TestUseKernelsSwitchesAndRestores(t *testing.T) {
	before := Kernels()
	levels := Available()
	if levels[0] != LevelGeneric || levels[len(levels)-1] != bestLevel() {
		t.Fatalf("Available() = %v, want generic up to %s", levels, bestLevel())
	}
	for _, l := range levels {
		restore, err := UseKernels(l)
		if err != nil {
			t.Fatal(err)
		}
		if Kernels() != l || AVX512() != (l == LevelAVX512) {
			t.Fatalf("after UseKernels(%s): Kernels() = %s, AVX512() = %v", l, Kernels(), AVX512())
		}
		restore()
		if Kernels() != before {
			t.Fatalf("restore after %s left %s, want %s", l, Kernels(), before)
		}
	}
	if _, err := UseKernels(bestLevel() + 1); !errors.Is(err, ErrKernelsUnavailable) {
		t.Fatalf("UseKernels(%s) on a CPU whose best is %s: %v", bestLevel()+1, bestLevel(), err)
	}
}

// forEachLevel runs f under every kernel level this CPU has, restoring the
// level afterwards.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, l := range Available() {
		t.Run(l.String(), func(t *testing.T) {
			restore, err := UseKernels(l)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

// Through the exported functions, every level gives the reference loops'
// bits: MatMul the canonical-order loop (on the tails of both panel widths
// and all three row blocks), softmax and GELU the Go steps, on random and
// edge values.
func TestEveryLevelGivesTheReferenceBits(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	forEachLevel(t, func(t *testing.T) {
		for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {6, 16, 1}, {6, 16, 9}, {7, 17, 5}, {11, 31, 8}, {12, 48, 33}, {13, 47, 2}, {17, 64, 70}} {
			for _, acc := range []bool{false, true} {
				a := randSlice(r, tc.m*tc.k)
				b := randSlice(r, tc.k*tc.n)
				c0 := randSlice(r, tc.m*tc.n)
				// Edge values in a few places: their NaNs and infinities
				// must land in the same elements.
				for _, s := range [][]float32{a, b, c0} {
					s[r.IntN(len(s))] = edgeValues[r.IntN(len(edgeValues))]
				}
				got := append([]float32(nil), c0...)
				want := append([]float32(nil), c0...)
				MatMul(tc.m, tc.n, tc.k, a, tc.k, b, tc.n, got, tc.n, acc)
				matMulRef(tc.m, tc.n, tc.k, a, tc.k, b, tc.n, want, tc.n, acc)
				for i := range got {
					if !sameBits(got[i], want[i]) {
						t.Fatalf("%s %+v acc=%v: c[%d] = %v, reference %v", Kernels(), tc, acc, i, got[i], want[i])
					}
				}
			}
		}
		for _, n := range []int{1, 5, 8, 17, 197} {
			x := randSlice(r, 3*n)
			for i := range x {
				x[i] *= 10
			}
			x[r.IntN(len(x))] = float32(math.Copysign(0, -1))
			got := append([]float32(nil), x...)
			SoftmaxRows(got, 3, n, 0.125)
			want := append([]float32(nil), x...)
			for row := 0; row < 3; row++ {
				w := want[row*n : row*n+n]
				expShiftedGo(w, maxGo(w), 0.125)
				scaleGo(w, 1/sum16Go(w))
			}
			g := append([]float32(nil), x...)
			GELU(g)
			wg := append([]float32(nil), x...)
			geluGo(wg)
			for i := range got {
				if !sameBits(got[i], want[i]) || !sameBits(g[i], wg[i]) {
					t.Fatalf("%s n=%d element %d: softmax %v (Go %v), GELU %v (Go %v)", Kernels(), n, i, got[i], want[i], g[i], wg[i])
				}
			}
		}
	})
}

// A test run with a misspelt CLIPFORMER_KERNELS would silently test the
// default kernels; it fails instead, with linalg's message.
func TestKernelsEnvIsValid(t *testing.T) {
	if err := KernelsErr(); errors.Is(err, ErrUnknownKernels) {
		t.Fatal(err)
	} else if err != nil {
		t.Log(err)
	}
	t.Logf("kernels in use: %s", Kernels())
}
