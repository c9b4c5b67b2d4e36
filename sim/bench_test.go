package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// deitSmallSetup is a DeiT-S-shaped model with seeded random weights and
// random 224 x 224 RGB images.
func deitSmallSetup(b *testing.B, images int) (*vit.Model, *memData) {
	m, err := vit.Synth(vit.Presets["deit-small"], 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(4, 4))
	d := &memData{c: 3, h: 224, w: 224}
	for i := 0; i < images; i++ {
		img := make([]float32, 3*224*224)
		for j := range img {
			img[j] = r.Float32()
		}
		d.images = append(d.images, img)
		d.labels = append(d.labels, r.IntN(5))
	}
	return m, d
}

// BenchmarkForwardDeiTSmall measures images per second of a DeiT-S forward
// (224 x 224, both cores) for the ideal float model and the crossbar fast
// path at gamma 0, and with the default write noise and ClipFormer, with and
// without read noise. The _float cases compute every crossbar product in
// float32, as before the exact integer products (noise-free static weights,
// and K and V without write noise) existed; the _bf16 cases compute the
// read-noise variance product in bfloat16 (bf16Variances), the _vec cases
// draw read noise and write K and V with vector code (vectorNormals). Compare the ns/op of the
// sub-benchmarks side by side: they run in one process on one machine. On a
// machine shared with other jobs, compare cpu-ms/image (the process's CPU
// time per image, both cores together), which their load moves far less.
func BenchmarkForwardDeiTSmall(b *testing.B) {
	const images = 16
	m, d := deitSmallSetup(b, images)
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 4, 0)
	if err != nil {
		b.Fatal(err)
	}
	noisy := crossbar.Default()
	read := noisy
	read.SigmaR = 0.05
	clip := crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}
	cases := []struct {
		name  string
		s     Setting
		float bool
		bf16  bool
		vec   bool
	}{
		{"ideal", Setting{Ideal: true}, false, false, false},
		{"gamma0_clipformer_float", Setting{Profile: noisy, Gamma: 0, Clip: clip}, true, false, false},
		{"gamma0_clipformer", Setting{Profile: noisy, Gamma: 0, Clip: clip}, false, false, false},
		{"writenoise_clipformer_float", Setting{Profile: noisy, Gamma: 4, Clip: clip}, true, false, false},
		{"writenoise_clipformer", Setting{Profile: noisy, Gamma: 4, Clip: clip}, false, false, false},
		{"writenoise_clipformer_readnoise_float", Setting{Profile: read, Gamma: 4, Clip: clip}, true, false, false},
		{"writenoise_clipformer_readnoise", Setting{Profile: read, Gamma: 4, Clip: clip}, false, false, false},
		{"writenoise_clipformer_readnoise_float_bf16", Setting{Profile: read, Gamma: 4, Clip: clip}, true, true, false},
		{"writenoise_clipformer_readnoise_bf16", Setting{Profile: read, Gamma: 4, Clip: clip}, false, true, false},
		{"writenoise_clipformer_readnoise_float_vec", Setting{Profile: read, Gamma: 4, Clip: clip}, true, false, true},
		{"writenoise_clipformer_readnoise_float_bf16_vec", Setting{Profile: read, Gamma: 4, Clip: clip}, true, true, true},
		{"writenoise_clipformer_readnoise_bf16_vec", Setting{Profile: read, Gamma: 4, Clip: clip}, false, true, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var mp *Mapped
			if !tc.s.Ideal {
				if mp, err = mapWeights(m, &tc.s, Fast, mapOptions{intProducts: !tc.float, bf16Variances: tc.bf16, vectorNormals: tc.vec}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			cpu0 := processCPUSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: tc.s, KV: kv, Mapped: mp}); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := processCPUSeconds() - cpu0; cpu > 0 {
				b.ReportMetric(cpu*1e3/float64(images*b.N), "cpu-ms/image")
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(images*b.N)/sec, "images/s")
			b.ReportMetric(m.FLOPs()*float64(images*b.N)/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkReferencePathTiny compares the reference path's cost with the fast
// path's on a small model (the reference path is far too slow for DeiT-S).
func BenchmarkReferencePathTiny(b *testing.B) {
	m, d := tinySetup(b, 8)
	ctx := context.Background()
	kv, _ := CalibrateKV(ctx, m, d, 8, 1)
	for _, path := range []Path{Fast, Reference} {
		b.Run(fmt.Sprintf("%s_d%d_depth%d", path, m.Dim, m.Depth), func(b *testing.B) {
			s := Setting{Profile: crossbar.Default(), Gamma: 4, Path: path}
			for i := 0; i < b.N; i++ {
				if _, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkFashionMNISTKernels evaluates the bundled Fashion-MNIST model with
// write noise and ClipFormer (clipformer eval --gamma 3 --clip 2,0.25) on one
// worker under the AVX2 + FMA kernels and under the CPU's best kernels,
// alternating them within every iteration so that both see the same machine
// load. It reports each level's images per second of wall time and per CPU
// second (the per-core rate, steadier than wall time on a shared machine),
// and avx2_vs_best: the AVX2 per-CPU-second rate over the best level's.
func BenchmarkFashionMNISTKernels(b *testing.B) {
	const images = 500
	m, err := vit.Load(filepath.Join("..", "models", "vit-fashion-mnist.safetensors"), vit.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	test, err := dataset.Open("fashion-mnist", "test")
	if errors.Is(err, dataset.ErrNotFound) {
		b.Skipf("%v (Fashion-MNIST needs Debian's dataset-fashion-mnist or %s)", err, dataset.DataEnv)
	}
	if err != nil {
		b.Fatal(err)
	}
	train, err := dataset.Open("fashion-mnist", "train")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p := crossbar.Default()
	kv, err := CalibrateKV(ctx, m, train, p.CalibrationImages, 0)
	if err != nil {
		b.Fatal(err)
	}
	s := Setting{Profile: p, Gamma: 3, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}, Seed: 1}
	mp, err := MapWeights(m, &s, Fast)
	if err != nil {
		b.Fatal(err)
	}
	best := linalg.Available()[len(linalg.Available())-1]
	if best < linalg.LevelAVX2 {
		b.Skip("this CPU lacks AVX2 and FMA")
	}
	levels := []linalg.Level{best, linalg.LevelAVX2}
	if best == linalg.LevelAVX2 {
		levels = levels[:1]
	}
	wall := map[linalg.Level]time.Duration{}
	cpu := map[linalg.Level]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range levels {
			restore, err := linalg.UseKernels(l)
			if err != nil {
				b.Fatal(err)
			}
			t0, c0 := time.Now(), processCPUTime()
			if _, err := Evaluate(ctx, Request{Model: m, Data: test, Count: images, Setting: s, KV: kv, Mapped: mp, Workers: 1}); err != nil {
				b.Fatal(err)
			}
			wall[l] += time.Since(t0)
			cpu[l] += processCPUTime() - c0
			restore()
		}
	}
	n := float64(images * b.N)
	for _, l := range levels {
		b.ReportMetric(n/wall[l].Seconds(), l.String()+"_images/s")
		if cpu[l] > 0 {
			b.ReportMetric(n/cpu[l].Seconds(), l.String()+"_images/cpu-s")
		}
	}
	if cpu[best] > 0 && cpu[linalg.LevelAVX2] > 0 {
		b.ReportMetric(cpu[best].Seconds()/cpu[linalg.LevelAVX2].Seconds(), "avx2_vs_best")
	}
}
