package vit

import (
	"fmt"
	"math"
	"sort"
)

// Config is a ViT's architecture.
type Config struct {
	Arch      string    // a short name, informational
	ImgSize   int       // input height and width in pixels
	InChans   int       // input channels
	Patch     int       // patch size (the patch embedding's kernel and stride)
	Dim       int       // embedding dimension
	Depth     int       // number of encoder blocks
	Heads     int       // attention heads per block
	MLPHidden int       // hidden width of each block's MLP
	Classes   int       // classifier outputs
	Distilled bool      // DeiT's distillation token and head_dist
	Mean, Std []float32 // per-channel input normalisation

	// LV-ViT (official layout, "All Tokens Matter", Jiang et al. 2021).
	// Stem is the channel count of the convolutional stem (0: none): a 7x7
	// stride-2 convolution and two 3x3 ones, each with BatchNorm and ReLU,
	// halve the image before a patch embedding of kernel Patch/2.
	Stem int
	// SkipLam divides each block's attention and MLP branch before the
	// residual sum (0 or 1: none).
	SkipLam float32
	// AuxHead is LV-ViT's token-labelling head on the patch tokens; the
	// logits are head(cls) + 0.5 max over patch tokens of aux_head(token).
	AuxHead bool
	// NoQKVBias: the qkv projection has no bias (LV-ViT).
	NoQKVBias bool
}

// ImageNet's default normalisation, which timm and DeiT use.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// HeadDim is the per-head dimension Dim/Heads.
func (c Config) HeadDim() int { return c.Dim / c.Heads }

// Patches is the number of image patches.
func (c Config) Patches() int { g := c.ImgSize / c.Patch; return g * g }

// PrefixTokens is 1, or 2 for a distilled model.
func (c Config) PrefixTokens() int {
	if c.Distilled {
		return 2
	}
	return 1
}

// Tokens is the sequence length seen by every block.
func (c Config) Tokens() int { return c.Patches() + c.PrefixTokens() }

// PatchInputs is the length of one flattened patch, C*p*p, or with a stem
// Stem*(p/2)*(p/2).
func (c Config) PatchInputs() int {
	if c.Stem > 0 {
		return c.Stem * (c.Patch / 2) * (c.Patch / 2)
	}
	return c.InChans * c.Patch * c.Patch
}

// StemConvs describes the LV-ViT stem's convolutions (none without a stem).
func (c Config) StemConvs() []ConvShape {
	if c.Stem <= 0 {
		return nil
	}
	return []ConvShape{
		{In: c.InChans, Out: c.Stem, K: 7, Stride: 2, Pad: 3},
		{In: c.Stem, Out: c.Stem, K: 3, Stride: 1, Pad: 1},
		{In: c.Stem, Out: c.Stem, K: 3, Stride: 1, Pad: 1},
	}
}

// ConvShape is a 2-D convolution's geometry.
type ConvShape struct{ In, Out, K, Stride, Pad int }

// OutSize is the output side for an input side of n.
func (s ConvShape) OutSize(n int) int { return (n+2*s.Pad-s.K)/s.Stride + 1 }

// skipLam is the residual branch divisor, 1 when none.
func (c Config) skipLam() float32 {
	if c.SkipLam == 0 {
		return 1
	}
	return c.SkipLam
}

// Params is the parameter count.
func (c Config) Params() int {
	d, h := c.Dim, c.MLPHidden
	n := d*c.PatchInputs() + d + c.PrefixTokens()*d + c.Tokens()*d
	block := 4*d + (3*d*d + 3*d) + (d*d + d) + (h*d + h) + (d*h + d)
	if c.NoQKVBias {
		block -= 3 * d
	}
	n += c.Depth*block + 2*d + c.Classes*d + c.Classes
	if c.Distilled {
		n += c.Classes*d + c.Classes
	}
	if c.AuxHead {
		n += c.Classes*d + c.Classes
	}
	for _, s := range c.StemConvs() {
		n += s.Out*s.In*s.K*s.K + 2*s.Out // the kernel, BatchNorm's affine
	}
	return n
}

// FLOPs is the forward pass's floating-point operation count per image,
// counting a multiply-add as two and only the matrix products.
func (c Config) FLOPs() float64 {
	n, d, h := float64(c.Tokens()), float64(c.Dim), float64(c.MLPHidden)
	patch := float64(c.Patches()) * float64(c.PatchInputs()) * d
	block := n*d*3*d + n*d*d + 2*n*d*h + 2*n*n*d
	head := float64(c.PrefixTokens()) * d * float64(c.Classes)
	if c.AuxHead {
		head += float64(c.Patches()) * d * float64(c.Classes)
	}
	stem, side := 0.0, c.ImgSize
	for _, s := range c.StemConvs() {
		side = s.OutSize(side)
		stem += float64(side*side) * float64(s.In*s.K*s.K*s.Out)
	}
	return 2 * (stem + patch + float64(c.Depth)*block + head)
}

// Validate reports an architecture that cannot run.
func (c Config) Validate() error {
	switch {
	case c.ImgSize <= 0 || c.Patch <= 0 || c.ImgSize%c.Patch != 0:
		return fmt.Errorf("vit: image size %d is not a positive multiple of patch size %d", c.ImgSize, c.Patch)
	case c.InChans <= 0 || c.Dim <= 0 || c.Depth <= 0 || c.Classes <= 0 || c.MLPHidden <= 0:
		return fmt.Errorf("vit: non-positive size in %+v", c)
	case c.Heads <= 0 || c.Dim%c.Heads != 0:
		return fmt.Errorf("vit: dim %d is not divisible by %d heads", c.Dim, c.Heads)
	case c.Stem < 0 || (c.Stem > 0 && (c.Patch%2 != 0 || c.ImgSize%2 != 0)):
		return fmt.Errorf("vit: a convolutional stem (%d channels) needs an even patch size and image size, not %d and %d", c.Stem, c.Patch, c.ImgSize)
	case c.SkipLam < 0 || math.IsNaN(float64(c.SkipLam)) || math.IsInf(float64(c.SkipLam), 0):
		return fmt.Errorf("vit: skip_lam %v is not a positive number", c.SkipLam)
	case len(c.Mean) != c.InChans || len(c.Std) != c.InChans:
		return fmt.Errorf("vit: normalisation has %d means and %d stds for %d channels", len(c.Mean), len(c.Std), c.InChans)
	}
	for i, s := range c.Std {
		if !(s > 0) {
			return fmt.Errorf("vit: std[%d] = %v is not positive", i, s)
		}
	}
	return nil
}

// Presets are the architectures `clipformer model synth` can write.
var Presets = map[string]Config{
	"deit-tiny":            deit("deit-tiny", 192, 3, false),
	"deit-small":           deit("deit-small", 384, 6, false),
	"deit-base":            deit("deit-base", 768, 12, false),
	"deit-tiny-distilled":  deit("deit-tiny-distilled", 192, 3, true),
	"deit-small-distilled": deit("deit-small-distilled", 384, 6, true),
	"deit-base-distilled":  deit("deit-base-distilled", 768, 12, true),
	// LV-ViT-S as the official lvvit_s: 16 blocks, mlp ratio 3, skip_lam 2.
	"lvvit-s": {Arch: "lvvit-s", ImgSize: 224, InChans: 3, Patch: 16, Dim: 384, Depth: 16, Heads: 6,
		MLPHidden: 1152, Classes: 1000, Mean: ImageNetMean, Std: ImageNetStd,
		Stem: 64, SkipLam: 2, AuxHead: true, NoQKVBias: true},
}

func deit(name string, dim, heads int, distilled bool) Config {
	return Config{Arch: name, ImgSize: 224, InChans: 3, Patch: 16, Dim: dim, Depth: 12, Heads: heads,
		MLPHidden: 4 * dim, Classes: 1000, Distilled: distilled, Mean: ImageNetMean, Std: ImageNetStd}
}

// PresetNames lists Presets' keys in order.
func PresetNames() []string {
	var s []string
	for k := range Presets {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
