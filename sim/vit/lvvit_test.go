package vit

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/sim/safetensors"
)

// An LV-ViT-S-shaped checkpoint in the official layout (the lvvit-s preset,
// as `clipformer model synth --arch lvvit-s` writes it) loads back with its
// architecture recognised from the tensors alone, and runs.
func TestLVViTSmallSynthLoadsInTheOfficialLayoutAndRuns(t *testing.T) {
	m, err := Synth(Presets["lvvit-s"], 3)
	if err != nil {
		t.Fatal(err)
	}
	ts := m.Tensors()
	names := map[string][]int{}
	for _, tn := range ts {
		names[tn.Name] = tn.Shape
	}
	for name, shape := range map[string][]int{
		"patch_embed.conv1.weight":    {64, 3, 7, 7},
		"patch_embed.bn1.running_var": {64},
		"patch_embed.conv3.weight":    {64, 64, 3, 3},
		"patch_embed.proj.weight":     {384, 64, 8, 8},
		"pos_embed":                   {1, 197, 384},
		"blocks.15.mlp.fc1.weight":    {1152, 384},
		"aux_head.weight":             {1000, 384},
		"blocks.0.attn.qkv.weight":    {1152, 384},
	} {
		if got := names[name]; !equalInts(got, shape) {
			t.Errorf("tensor %s: shape %v, want %v", name, got, shape)
		}
	}
	if _, ok := names["blocks.0.attn.qkv.bias"]; ok {
		t.Error("LV-ViT's qkv has no bias, but one was written")
	}
	// Official checkpoints carry no metadata: skip_lam comes from the shape.
	path := filepath.Join(t.TempDir(), "lvvit.safetensors")
	if err := safetensors.Write(path, ts, nil, "F32"); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Config
	if c.Stem != 64 || c.Patch != 16 || c.ImgSize != 224 || c.Depth != 16 || c.Heads != 6 || c.MLPHidden != 1152 ||
		!c.AuxHead || !c.NoQKVBias || c.SkipLam != 2 || c.Tokens() != 197 {
		t.Fatalf("loaded config %+v", c)
	}
	// LV-ViT-S has 26.2 M parameters (the paper's Table 1 and the official
	// code's count, aux_head included).
	if p := c.Params(); math.Abs(float64(p)-26.2e6) > 0.1e6 {
		t.Fatalf("LV-ViT-S has %d parameters, want about 26.2 M", p)
	}
	img := make([]float32, 3*224*224)
	for i := range img {
		img[i] = float32(math.Sin(float64(i)))
	}
	logits := make([]float32, 1000)
	got.Forward(&Ideal{}, &Workspace{}, img, []int{0}, logits)
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logit %d = %v", i, v)
		}
	}
}

// An LV-ViT of a shape no official model has needs skip_lam named.
func TestLVViTWithoutKnownSkipLamIsRefused(t *testing.T) {
	c := Presets["lvvit-s"]
	c.Depth, c.ImgSize, c.Classes = 3, 32, 10
	m, err := Synth(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "odd.safetensors")
	if err := safetensors.Write(path, m.Tensors(), nil, "F32"); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, LoadOptions{})
	if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "skip_lam") || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want an error naming the file and skip_lam", err)
	}
	if got, err := Load(path, LoadOptions{SkipLam: 2}); err != nil || got.SkipLam != 2 {
		t.Fatalf("with skip_lam given: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
