package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// exactProduct is the crossbar product from the codes in float64: the input
// codes of x (QuantizeCodes) times the stored codes, summed exactly, times
// both units; and the sum of |terms| in value units, for tolerances.
func exactProduct(codec *crossbar.Codec, x []float32, rows, inner, cols int, code func(p, j int) int, unit func(j int) float64) (y, mag []float64) {
	xc := make([]int16, rows*inner)
	units := make([]float64, rows)
	codec.QuantizeCodes(xc, inner, units, x, rows, inner)
	y, mag = make([]float64, rows*cols), make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			var s, a int64
			for p := 0; p < inner; p++ {
				t := int64(xc[i*inner+p]) * int64(code(p, j))
				s += t
				a += max(t, -t)
			}
			y[i*cols+j] = float64(s) * units[i] * unit(j)
			mag[i*cols+j] = float64(a) * units[i] * unit(j)
		}
	}
	return y, mag
}

// checkProducts compares the integer path's output with the exact product
// (within intTol: its float32 roundings) and the float path's output with
// it (within the float32 accumulation error of the old path).
func checkProducts(t *testing.T, name string, intY, floatY []float32, exact, mag, intTol []float64) {
	t.Helper()
	for i, e := range exact {
		if d := math.Abs(float64(intY[i]) - e); d > intTol[i]+1e-30 {
			t.Fatalf("%s [%d]: integer path %v, exact %v", name, i, intY[i], e)
		}
		if d := math.Abs(float64(floatY[i]) - e); d > 1e-5*mag[i]+1e-30 {
			t.Fatalf("%s [%d]: float path %v, exact %v (sum of |terms| %v)", name, i, floatY[i], e, mag[i])
		}
	}
}

// A noise-free static linear is the exact product of the input codes and
// the stored codes, rounded once; the float path computes the same product
// with float32 roundings. Both weight scales.
func TestIntegerLinearIsTheExactCodeProduct(t *testing.T) {
	m, _ := tinySetup(t, 1)
	r := rand.New(rand.NewPCG(6, 1))
	const rows = 7
	for _, ws := range []crossbar.WeightScale{crossbar.PerLayer, crossbar.PerColumn} {
		p := crossbar.Default()
		p.WeightScale = ws
		s := Setting{Profile: p, Gamma: 0, Seed: 3}
		intMap, err := mapWeights(m, &s, Fast, mapOptions{intProducts: true})
		if err != nil {
			t.Fatal(err)
		}
		floatMap, _ := mapWeights(m, &s, Fast, mapOptions{})
		for _, id := range []vit.LinearID{{Block: 0, Kind: vit.QKV}, {Block: 2, Kind: vit.FC2}} {
			ml, l := intMap.linear[id], linearsOf(m)[id]
			if ml.codes == nil || floatMap.linear[id].codes != nil {
				t.Fatalf("%s %v: codes in the integer mapping %v, in the float one %v", ws, id, ml.codes != nil, floatMap.linear[id].codes != nil)
			}
			x := randomVector(r, rows*l.In)
			y := map[bool][]float32{}
			for _, mp := range []*Mapped{intMap, floatMap} {
				o := newXbarOps(&s, mp, nil)
				o.begin([]int{0}, m.Depth)
				y[mp.intProducts] = make([]float32, rows*l.Out)
				o.Linear(id, l, y[mp.intProducts], x, rows)
			}
			exact, mag := exactProduct(intMap.codec, x, rows, l.In, l.Out,
				func(p, j int) int { return int(ml.codes.At(p, j)) },
				func(j int) float64 { return ml.colUnit[min(j, len(ml.colUnit)-1)] })
			// The bias is added in float32 after the product: one more rounding.
			tol := make([]float64, len(exact))
			for i, e := range exact {
				b := float64(l.B[i%l.Out])
				tol[i] = 0x1p-24 * (1 + 0x1p-20) * (math.Abs(e) + math.Abs(e+b))
				exact[i] += b
				mag[i] += math.Abs(b)
			}
			checkProducts(t, fmt.Sprintf("%s %v", ws, id), y[true], y[false], exact, mag, tol)
		}
	}
}

// K^T and V written without write noise take the integer path, with and
// without read noise variances; with write noise they keep the float path.
func TestIntegerKVProductIsTheExactCodeProduct(t *testing.T) {
	const tokens, hd, rows = 17, 32, 5
	r := rand.New(rand.NewPCG(6, 2))
	kt, v := randomVector(r, hd*tokens), randomVector(r, tokens*hd)
	kv := &KVScales{Blocks: 1, Heads: 1, K: []float32{0.8 * crossbar.MaxAbs(kt)}, V: []float32{0.8 * crossbar.MaxAbs(v)}}
	clip := crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.5}
	for _, c := range []struct {
		name        string
		m           []float32
		inner, cols int
		scale       float32
		write, read keyrand.Kind
	}{
		{"KT", kt, hd, tokens, kv.K[0], keyrand.WriteK, keyrand.ReadQK},
		{"V", v, tokens, hd, kv.V[0], keyrand.WriteV, keyrand.ReadAV},
	} {
		s := Setting{Profile: crossbar.Default(), Gamma: 0, Seed: 5, Clip: clip}
		x := randomVector(r, rows*c.inner)
		y := map[bool][]float32{}
		for _, intProducts := range []bool{true, false} {
			mp, err := mapWeights(&vit.Model{}, &s, Fast, mapOptions{intProducts: intProducts})
			if err != nil {
				t.Fatal(err)
			}
			o := newXbarOps(&s, mp, kv)
			o.begin([]int{0}, 1)
			if o.intKV(c.inner) != intProducts {
				t.Fatalf("%s: integer K/V path %v with intProducts %v", c.name, o.intKV(c.inner), intProducts)
			}
			a := &vit.Attention{Tokens: tokens, HeadDim: hd}
			y[intProducts] = make([]float32, rows*c.cols)
			o.product(a, x, c.m, rows, c.inner, c.cols, y[intProducts], c.write, c.read)
		}
		codec, _ := crossbar.NewCodec(s.Profile)
		codes := make([]int16, len(c.m))
		codec.SignedCodes(codes, nil, c.m, c.scale, clip)
		exact, mag := exactProduct(codec, x, rows, c.inner, c.cols,
			func(p, j int) int { return int(codes[p*c.cols+j]) }, func(int) float64 { return codec.Unit(c.scale) })
		tol := make([]float64, len(exact))
		for i, e := range exact {
			tol[i] = 0x1p-24 * (1 + 0x1p-20) * math.Abs(e) // one rounding
		}
		checkProducts(t, c.name, y[true], y[false], exact, mag, tol)
	}
	s := Setting{Profile: crossbar.Default(), Gamma: 4, Clip: clip}
	mp, _ := MapWeights(&vit.Model{}, &s, Fast)
	if newXbarOps(&s, mp, kv).intKV(hd) {
		t.Fatal("K^T with write noise is not an integer matrix, yet takes the integer path")
	}
}

// logitsDigest evaluates the tiny model at gamma 0 with read noise and at
// gamma 4 (integer products for the static linears in both, for K and V in
// the first) and hashes every logit and SNR sum.
func logitsDigest(t *testing.T) string {
	m, d := tinySetup(t, 6)
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	read := crossbar.Default()
	read.SigmaR = 0.05
	for _, s := range []Setting{{Profile: read, Gamma: 0, Seed: 2, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.5}}, noisySetting(crossbar.Default())} {
		res, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Workers: 2, Batch: 4, Predictions: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Predictions {
			for _, v := range p.Logits {
				binary.Write(h, binary.LittleEndian, math.Float32bits(v))
			}
		}
		for b := range res.Signal {
			fmt.Fprint(h, res.Signal[b], res.Noise[b])
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// Every kernel family gives the same bits through a whole evaluation: this
// process (the best kernels the CPU has) against child processes with the
// kernels forced to AVX2 and to pure Go.
func TestKernelFamiliesGiveTheSameEvaluation(t *testing.T) {
	if os.Getenv("SIM_PRINT_DIGEST") != "" {
		fmt.Printf("digest %s kernels %s\n", logitsDigest(t), linalg.IntKernels())
		return
	}
	want := logitsDigest(t)
	for _, forced := range []string{"avx2", "generic"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKernelFamiliesGiveTheSameEvaluation$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), linalg.KernelsEnv+"="+forced, "SIM_PRINT_DIGEST=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%s: %v\n%s", linalg.KernelsEnv, forced, err, out)
		}
		line := ""
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "digest ") {
				line = l
			}
		}
		name, err := linalg.IntKernelsFor(forced)
		if err != nil {
			t.Fatal(err)
		}
		if line != fmt.Sprintf("digest %s kernels %s", want, name) {
			t.Fatalf("%s=%s: got %q, want digest %s kernels %s", linalg.KernelsEnv, forced, line, want, name)
		}
	}
}
