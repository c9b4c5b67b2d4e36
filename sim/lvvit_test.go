package sim

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

// An LV-ViT runs through the crossbar fast path with write noise and
// ClipFormer, deterministically, and its hardware counts include aux_head,
// which reads every patch token.
func TestLVViTRunsOnCrossbarsAndCountsItsAuxHead(t *testing.T) {
	c := vit.Presets["lvvit-s"]
	c.ImgSize, c.Depth, c.Classes, c.Stem = 32, 2, 5, 8
	m, err := vit.Synth(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	d := &memData{c: 3, h: 32, w: 32}
	for i := 0; i < 6; i++ {
		img := make([]float32, 3*32*32)
		for j := range img {
			img[j] = r.Float32()
		}
		d.images = append(d.images, img)
		d.labels = append(d.labels, r.IntN(5))
	}
	prof := crossbar.Default()
	prof.OnCrossbar = crossbar.AllPlaces // the heads too
	s := Setting{Profile: prof, Gamma: 3, Clip: crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}}
	ctx := context.Background()
	kv, err := CalibrateKV(ctx, m, d, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Predictions: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(ctx, Request{Model: m, Data: d, Setting: s, KV: kv, Predictions: true, Start: 3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a.Images != 6 || len(a.Signal) != 2 {
		t.Fatalf("result %+v", a)
	}
	for i := range b.Predictions {
		pa, pb := a.Predictions[3+i], b.Predictions[i]
		for j := range pa.Logits {
			if pa.Logits[j] != pb.Logits[j] {
				t.Fatalf("image %d logit %d: %v in one run, %v in a shard", 3+i, j, pa.Logits[j], pb.Logits[j])
			}
		}
	}
	h := HardwareCounts(c, s.Profile, s.Clip)
	found := false
	for _, mc := range h.Matrices {
		if mc.Name == "aux_head" {
			found = true
			if want := int64(s.Profile.InputBits) * 2 * int64(c.Patches()); mc.BitCycles != want {
				t.Fatalf("aux_head bit cycles %d, want %d (one vector per patch token)", mc.BitCycles, want)
			}
		}
	}
	if !found {
		t.Fatal("hardware counts have no aux_head")
	}
}
