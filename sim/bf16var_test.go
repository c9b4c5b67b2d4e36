package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// resultDigest hashes every logit and SNR sum of r.
func resultDigest(r *Result) string {
	h := sha256.New()
	for _, p := range r.Predictions {
		for _, v := range p.Logits {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	for b := range r.Signal {
		fmt.Fprint(h, r.Signal[b], r.Noise[b])
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:12])
}

// pinnedSettings are the tiny model's settings whose result bits are pinned:
// the float model, gamma 0, write noise with ClipFormer, and the same with
// read noise, the last one with the switches as evaluations take them.
func pinnedSettings() []struct {
	name string
	s    Setting
} {
	read := crossbar.Default()
	read.SigmaR = 0.05
	return []struct {
		name string
		s    Setting
	}{
		{"ideal", Setting{Ideal: true}},
		{"gamma0_clipformer", Setting{Profile: crossbar.Default(), Gamma: 0, Seed: 2, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}}},
		{"writenoise_clipformer", noisySetting(crossbar.Default())},
		{"writenoise_clipformer_readnoise", noisySetting(read)},
	}
}

// The result bits of the committed study's kinds of points are pinned, as
// the code before the bfloat16 variance products computed them: results
// without read noise must keep them whatever the read-noise switches say
// (they never compute a variance product), and with read noise under the
// switches' defaults. Every kernel level must give them. The digests hold
// on amd64: elsewhere the ziggurat's rare tail draws may round differently
// (sim/DESIGN.md, "Determinism").
func TestResultBitsArePinned(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("the digests were computed on amd64; %s may differ in the ziggurat's tail draws", runtime.GOARCH)
	}
	want := map[string]string{
		"ideal":                           "611514ef437ed3ea61521cb7",
		"gamma0_clipformer":               "60856e1fe0b96bf9971d750b",
		"writenoise_clipformer":           "2252f8d5cb114a16d1d1b4dd",
		"writenoise_clipformer_readnoise": "c9be472c7057c94edc3aeecd",
	}
	m, d := tinySetup(t, 8)
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range pinnedSettings() {
		def := defaultMapOptions()
		opts := []mapOptions{def}
		if tc.s.Profile.SigmaR == 0 {
			opts = append(opts, mapOptions{intProducts: def.intProducts, bf16Variances: !def.bf16Variances, vectorNormals: !def.vectorNormals})
		}
		for _, opt := range opts {
			byLevel := underEachLevel(t, func(t *testing.T) string {
				return resultDigest(evaluateOn(t, m, d, tc.s, kv, opt))
			})
			for l, got := range byLevel {
				if got != want[tc.name] {
					t.Errorf("%s, %+v, kernels %s: digest %s, pinned %s", tc.name, opt, l, got, want[tc.name])
				}
			}
		}
	}
}

// evaluateOn evaluates d on 2 workers in batches of 3 through a mapping
// made with opt (none for the float model).
func evaluateOn(t *testing.T, m *vit.Model, d *memData, s Setting, kv *KVScales, opt mapOptions) *Result {
	t.Helper()
	var mp *Mapped
	if !s.Ideal {
		var err error
		if mp, err = mapWeights(m, &s, Fast, opt); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Evaluate(context.Background(), Request{Model: m, Data: d, Setting: s, KV: kv, Mapped: mp, Workers: 2, Batch: 3, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// With each read-noise switch on (bfloat16 variance products, vector
// normals, both), results with read noise are still bit-identical across
// shardings, worker counts, batch sizes and kernel levels (with the integer
// products off and on: gamma 0 takes K and V's integer path, whose
// variances come from the codes); and they differ from the bits with the
// switch off, so each switch does what it says.
func TestReadNoiseSwitchesKeepBitIdentity(t *testing.T) {
	m, d := tinySetup(t, 23)
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	read := crossbar.Default()
	read.SigmaR = 0.05
	gamma0 := Setting{Profile: read, Gamma: 0, Seed: 3, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}}
	for _, s := range []Setting{noisySetting(read), gamma0} {
		for _, opt := range []mapOptions{
			{bf16Variances: true}, {vectorNormals: true}, {intProducts: true, bf16Variances: true, vectorNormals: true},
		} {
			ints := opt.intProducts
			t.Run(fmt.Sprintf("gamma%g/%+v", s.Gamma, opt), func(t *testing.T) {
				mp, err := mapWeights(m, &s, Fast, opt)
				if err != nil {
					t.Fatal(err)
				}
				byLevel := underEachLevel(t, func(t *testing.T) *Result {
					return evaluateWholeAndShardedOn(t, m, d, s, kv, mp)
				})
				compareLevels(t, byLevel)
				f32, err := mapWeights(m, &s, Fast, mapOptions{intProducts: ints})
				if err != nil {
					t.Fatal(err)
				}
				old, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Mapped: f32, Workers: 2, Batch: 5, Predictions: true})
				if err != nil {
					t.Fatal(err)
				}
				if diff := resultsDiffer(byLevel[linalg.Kernels()], old); diff == "" {
					t.Fatal("the switches give the bits they give off")
				}
			})
		}
	}
}
