package vit

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/safetensors"
)

// ErrCheckpoint marks a checkpoint that does not describe a ViT this package
// can run.
var ErrCheckpoint = errors.New("vit: bad checkpoint")

// Linear is y = x W^T + b. The weight is held transposed, WT = W^T (In x
// Out), the layout the row-vector product y = x WT reads.
type Linear struct {
	Name    string // the checkpoint's tensor prefix, e.g. "blocks.3.attn.qkv"
	In, Out int
	WT      []float32 // In x Out
	B       []float32 // Out, or nil
}

// newLinear builds a Linear from PyTorch's (Out x In) weight.
func newLinear(name string, out, in int, w, b []float32) Linear {
	l := Linear{Name: name, In: in, Out: out, B: b}
	if w != nil {
		l.WT = make([]float32, len(w))
		linalg.Transpose(l.WT, out, w, in, out, in)
	}
	return l
}

// W returns the weight in PyTorch's (Out x In) layout, as a new slice.
func (l *Linear) W() []float32 {
	w := make([]float32, len(l.WT))
	linalg.Transpose(w, l.In, l.WT, l.Out, l.In, l.Out)
	return w
}

// Conv2D is one convolution of LV-ViT's stem with its eval-mode BatchNorm:
// y = Gamma (conv(x, W) - Mean) / sqrt(Var + 1e-5) + Beta, then ReLU. The
// product runs on WT and B, the kernel with the BatchNorm folded in.
type Conv2D struct {
	Name string // the checkpoint's prefix, e.g. "patch_embed.conv1"
	ConvShape
	W                      []float32 // Out x (In K K), PyTorch's layout
	Gamma, Beta, Mean, Var []float32 // BatchNorm, Out each
	WT                     []float32 // (In K K) x Out, folded
	B                      []float32 // Out, folded
}

// bnEps is PyTorch's BatchNorm2d default.
const bnEps = 1e-5

// fold computes WT and B from the kernel and the BatchNorm statistics.
func (c *Conv2D) fold() {
	n := c.In * c.K * c.K
	c.WT = make([]float32, n*c.Out)
	c.B = make([]float32, c.Out)
	for o := 0; o < c.Out; o++ {
		g := c.Gamma[o] / float32(math.Sqrt(float64(c.Var[o])+bnEps))
		for i := 0; i < n; i++ {
			c.WT[i*c.Out+o] = c.W[o*n+i] * g
		}
		c.B[o] = c.Beta[o] - c.Mean[o]*g
	}
}

// Block is one encoder block.
type Block struct {
	Norm1W, Norm1B []float32
	QKV, Proj      Linear
	Norm2W, Norm2B []float32
	FC1, FC2       Linear
}

// Model is a ViT with its weights.
type Model struct {
	Config
	Source     string    // where it was loaded from
	Dataset    string    // the data set the metadata names ("dataset"), e.g. "mnist"; may be empty
	PatchEmbed Linear    // Dim x (C*p*p), the conv kernel flattened in (c, ky, kx) order
	Cls        []float32 // Dim
	Dist       []float32 // Dim, distilled models only
	Pos        []float32 // Tokens x Dim
	Blocks     []Block
	NormW      []float32
	NormB      []float32
	Head       Linear
	HeadDist   Linear   // distilled models only
	StemLayers []Conv2D // LV-ViT's convolutional stem, in order
	Aux        Linear   // LV-ViT's token-labelling head, aux_head
}

// LoadOptions adjusts how a checkpoint is read.
type LoadOptions struct {
	// Heads overrides the head count; 0 takes it from the file's metadata
	// ("num_heads" or "heads"), else Dim/64.
	Heads int
	// Mean and Std override the normalisation; nil takes it from the
	// metadata ("mean", "std": comma-separated), else ImageNet's for three
	// channels and 0.5/0.5 otherwise.
	Mean, Std []float32
	// SkipLam overrides an LV-ViT's residual divisor; 0 takes it from the
	// metadata ("skip_lam"), else from the official model of that shape.
	SkipLam float32
}

// officialSkipLam is skip_lam of the official LV-ViT models, by (dim, depth).
var officialSkipLam = map[[2]int]float32{{240, 12}: 1, {384, 16}: 2, {512, 20}: 2, {768, 24}: 3}

// Load reads a safetensors checkpoint with timm's tensor names.
func Load(path string, opt LoadOptions) (*Model, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	return FromFile(f, opt)
}

// FromFile builds a model from a parsed checkpoint.
func FromFile(f *safetensors.File, opt LoadOptions) (*Model, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCheckpoint, f.Path, fmt.Sprintf(format, a...))
	}
	pw, err := f.Get("patch_embed.proj.weight", -1, -1, -1, -1)
	if err != nil {
		return nil, err
	}
	if pw.Shape[2] != pw.Shape[3] {
		return nil, bad("patch_embed.proj.weight has a non-square kernel %v", pw.Shape)
	}
	var c Config
	c.Dim, c.InChans, c.Patch = pw.Shape[0], pw.Shape[1], pw.Shape[2]
	if f.Has("patch_embed.conv1.weight") {
		// LV-ViT: the stem's channels feed a patch embedding of half the
		// token patch size.
		c1, err := f.Get("patch_embed.conv1.weight", -1, -1, 7, 7)
		if err != nil {
			return nil, err
		}
		if c1.Shape[0] != pw.Shape[1] {
			return nil, bad("patch_embed.conv1.weight has %d output channels but patch_embed.proj.weight reads %d", c1.Shape[0], pw.Shape[1])
		}
		c.Stem, c.InChans, c.Patch = c1.Shape[0], c1.Shape[1], 2*pw.Shape[2]
	}
	c.AuxHead = f.Has("aux_head.weight")
	c.NoQKVBias = !f.Has("blocks.0.attn.qkv.bias")
	c.Distilled = f.Has("dist_token")
	pos, err := f.Get("pos_embed", 1, -1, c.Dim)
	if err != nil {
		return nil, err
	}
	patches := pos.Shape[1] - c.PrefixTokens()
	side := int(math.Round(math.Sqrt(float64(patches))))
	if patches <= 0 || side*side != patches {
		return nil, bad("pos_embed has %d tokens: %d patches after %d prefix tokens is not a square grid", pos.Shape[1], patches, c.PrefixTokens())
	}
	c.ImgSize = side * c.Patch
	for c.Depth = 0; f.Has(fmt.Sprintf("blocks.%d.attn.qkv.weight", c.Depth)); c.Depth++ {
	}
	if c.Depth == 0 {
		return nil, bad("tensor blocks.0.attn.qkv.weight is missing: no encoder blocks")
	}
	fc1, err := f.Get("blocks.0.mlp.fc1.weight", -1, c.Dim)
	if err != nil {
		return nil, err
	}
	c.MLPHidden = fc1.Shape[0]
	hw, err := f.Get("head.weight", -1, c.Dim)
	if err != nil {
		return nil, err
	}
	c.Classes = hw.Shape[0]
	c.Heads, err = headsOf(f, opt.Heads, c.Dim)
	if err != nil {
		return nil, err
	}
	c.Mean, c.Std, err = normOf(f, opt, c.InChans)
	if err != nil {
		return nil, err
	}
	c.Arch = f.Metadata["arch"]
	if c.Stem > 0 || c.AuxHead {
		if c.SkipLam, err = skipLamOf(f, opt.SkipLam, c.Dim, c.Depth); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, bad("%v", err)
	}

	m := &Model{Config: c, Source: f.Path, Dataset: f.Metadata["dataset"]}
	get := func(name string, shape ...int) []float32 {
		if err != nil {
			return nil
		}
		var t *safetensors.Tensor
		t, err = f.Get(name, shape...)
		if err != nil {
			return nil
		}
		return t.Data
	}
	linear := func(name string, out, in int) Linear {
		var b []float32
		if !(c.NoQKVBias && strings.HasSuffix(name, ".attn.qkv")) {
			b = get(name+".bias", out)
		}
		return newLinear(name, out, in, get(name+".weight", out, in), b)
	}
	d := c.Dim
	for _, sh := range c.StemConvs() {
		p := fmt.Sprintf("patch_embed.conv%d", len(m.StemLayers)+1)
		bn := fmt.Sprintf("patch_embed.bn%d.", len(m.StemLayers)+1)
		cv := Conv2D{Name: p, ConvShape: sh, W: get(p+".weight", sh.Out, sh.In, sh.K, sh.K),
			Gamma: get(bn+"weight", sh.Out), Beta: get(bn+"bias", sh.Out), Mean: get(bn+"running_mean", sh.Out), Var: get(bn+"running_var", sh.Out)}
		if err == nil {
			for o, v := range cv.Var {
				if v < 0 {
					return nil, bad("tensor %srunning_var[%d] = %v is negative", bn, o, v)
				}
			}
			cv.fold()
		}
		m.StemLayers = append(m.StemLayers, cv)
	}
	m.PatchEmbed = newLinear("patch_embed.proj", d, c.PatchInputs(), pw.Data, get("patch_embed.proj.bias", d))
	m.Cls = get("cls_token", 1, 1, d)
	if c.Distilled {
		m.Dist = get("dist_token", 1, 1, d)
	}
	m.Pos = pos.Data
	m.Blocks = make([]Block, c.Depth)
	for i := range m.Blocks {
		p := fmt.Sprintf("blocks.%d.", i)
		m.Blocks[i] = Block{
			Norm1W: get(p+"norm1.weight", d), Norm1B: get(p+"norm1.bias", d),
			QKV:    linear(p+"attn.qkv", 3*d, d),
			Proj:   linear(p+"attn.proj", d, d),
			Norm2W: get(p+"norm2.weight", d), Norm2B: get(p+"norm2.bias", d),
			FC1: linear(p+"mlp.fc1", c.MLPHidden, d),
			FC2: linear(p+"mlp.fc2", d, c.MLPHidden),
		}
	}
	m.NormW, m.NormB = get("norm.weight", d), get("norm.bias", d)
	m.Head = linear("head", c.Classes, d)
	if c.Distilled {
		m.HeadDist = linear("head_dist", c.Classes, d)
	}
	if c.AuxHead {
		m.Aux = linear("aux_head", c.Classes, d)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func skipLamOf(f *safetensors.File, override float32, dim, depth int) (float32, error) {
	if override > 0 {
		return override, nil
	}
	if s, ok := f.Metadata["skip_lam"]; ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil || !(v > 0) {
			return 0, fmt.Errorf("%w %s: metadata skip_lam = %q is not a positive number", ErrCheckpoint, f.Path, s)
		}
		return float32(v), nil
	}
	if v, ok := officialSkipLam[[2]int{dim, depth}]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%w %s: an LV-ViT of dim %d and depth %d matches no official model and has no skip_lam in its metadata: name it", ErrCheckpoint, f.Path, dim, depth)
}

func headsOf(f *safetensors.File, override, dim int) (int, error) {
	if override > 0 {
		if dim%override != 0 {
			return 0, fmt.Errorf("%w %s: dim %d is not divisible by the %d heads asked for", ErrCheckpoint, f.Path, dim, override)
		}
		return override, nil
	}
	for _, key := range []string{"num_heads", "heads"} {
		if s, ok := f.Metadata[key]; ok {
			h, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || h <= 0 || dim%h != 0 {
				return 0, fmt.Errorf("%w %s: metadata %s = %q is not a head count dividing dim %d", ErrCheckpoint, f.Path, key, s, dim)
			}
			return h, nil
		}
	}
	if dim%64 != 0 {
		return 0, fmt.Errorf("%w %s: no head count in the metadata and dim %d is not a multiple of 64: name the heads", ErrCheckpoint, f.Path, dim)
	}
	return dim / 64, nil
}

func normOf(f *safetensors.File, opt LoadOptions, chans int) (mean, std []float32, err error) {
	parse := func(key string) ([]float32, error) {
		s, ok := f.Metadata[key]
		if !ok {
			return nil, nil
		}
		var v []float32
		for _, part := range strings.Split(s, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(part), 32)
			if err != nil {
				return nil, fmt.Errorf("%w %s: metadata %s = %q is not a comma-separated list of numbers", ErrCheckpoint, f.Path, key, s)
			}
			v = append(v, float32(x))
		}
		if len(v) != chans {
			return nil, fmt.Errorf("%w %s: metadata %s has %d values for %d channels", ErrCheckpoint, f.Path, key, len(v), chans)
		}
		return v, nil
	}
	mean, std = opt.Mean, opt.Std
	if mean == nil {
		if mean, err = parse("mean"); err != nil {
			return nil, nil, err
		}
	}
	if std == nil {
		if std, err = parse("std"); err != nil {
			return nil, nil, err
		}
	}
	if mean == nil {
		mean = defaultNorm(chans, ImageNetMean, 0.5)
	}
	if std == nil {
		std = defaultNorm(chans, ImageNetStd, 0.5)
	}
	return mean, std, nil
}

func defaultNorm(chans int, rgb []float32, other float32) []float32 {
	if chans == 3 {
		return append([]float32(nil), rgb...)
	}
	v := make([]float32, chans)
	for i := range v {
		v[i] = other
	}
	return v
}

// Linears lists every static linear of the model, in forward order.
func (m *Model) Linears() []*Linear {
	ls := []*Linear{&m.PatchEmbed}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		ls = append(ls, &b.QKV, &b.Proj, &b.FC1, &b.FC2)
	}
	ls = append(ls, &m.Head)
	if m.Distilled {
		ls = append(ls, &m.HeadDist)
	}
	if m.Config.AuxHead {
		ls = append(ls, &m.Aux)
	}
	return ls
}

// Tensors returns the model's weights under timm's names and shapes, in the
// order a checkpoint writer should use.
func (m *Model) Tensors() []*safetensors.Tensor {
	d := m.Dim
	var ts []*safetensors.Tensor
	add := func(name string, data []float32, shape ...int) {
		ts = append(ts, &safetensors.Tensor{Name: name, Shape: shape, Data: data})
	}
	addLinear := func(l *Linear) {
		add(l.Name+".weight", l.W(), l.Out, l.In)
		if l.B != nil {
			add(l.Name+".bias", l.B, l.Out)
		}
	}
	for i := range m.StemLayers {
		cv := &m.StemLayers[i]
		bn := fmt.Sprintf("patch_embed.bn%d.", i+1)
		add(cv.Name+".weight", cv.W, cv.Out, cv.In, cv.K, cv.K)
		add(bn+"weight", cv.Gamma, cv.Out)
		add(bn+"bias", cv.Beta, cv.Out)
		add(bn+"running_mean", cv.Mean, cv.Out)
		add(bn+"running_var", cv.Var, cv.Out)
	}
	if m.Config.Stem > 0 {
		add("patch_embed.proj.weight", m.PatchEmbed.W(), d, m.Stem, m.Patch/2, m.Patch/2)
	} else {
		add("patch_embed.proj.weight", m.PatchEmbed.W(), d, m.InChans, m.Patch, m.Patch)
	}
	add("patch_embed.proj.bias", m.PatchEmbed.B, d)
	add("cls_token", m.Cls, 1, 1, d)
	if m.Distilled {
		add("dist_token", m.Dist, 1, 1, d)
	}
	add("pos_embed", m.Pos, 1, m.Tokens(), d)
	for i := range m.Blocks {
		b := &m.Blocks[i]
		p := fmt.Sprintf("blocks.%d.", i)
		add(p+"norm1.weight", b.Norm1W, d)
		add(p+"norm1.bias", b.Norm1B, d)
		addLinear(&b.QKV)
		addLinear(&b.Proj)
		add(p+"norm2.weight", b.Norm2W, d)
		add(p+"norm2.bias", b.Norm2B, d)
		addLinear(&b.FC1)
		addLinear(&b.FC2)
	}
	add("norm.weight", m.NormW, d)
	add("norm.bias", m.NormB, d)
	addLinear(&m.Head)
	if m.Distilled {
		addLinear(&m.HeadDist)
	}
	if m.Config.AuxHead {
		addLinear(&m.Aux)
	}
	return ts
}

// Metadata returns the checkpoint metadata that lets Load rebuild the
// configuration exactly.
func (m *Model) Metadata() map[string]string {
	join := func(v []float32) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
		return strings.Join(s, ",")
	}
	md := map[string]string{
		"arch":        m.Arch,
		"num_heads":   strconv.Itoa(m.Heads),
		"img_size":    strconv.Itoa(m.ImgSize),
		"in_chans":    strconv.Itoa(m.InChans),
		"num_classes": strconv.Itoa(m.Classes),
		"mean":        join(m.Mean),
		"std":         join(m.Std),
	}
	if m.SkipLam != 0 {
		md["skip_lam"] = join([]float32{m.SkipLam})
	}
	if m.Dataset != "" {
		md["dataset"] = m.Dataset
	}
	return md
}

// Synth returns a model of architecture c with seeded random weights: linear
// weights ~ N(0, 0.02^2) as timm initialises them, small random biases and
// LayerNorm affines near identity, so every tensor is exercised.
func Synth(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	normal := func(n int, mean, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + std*r.NormFloat64())
		}
		return v
	}
	linear := func(name string, out, in int) Linear {
		return newLinear(name, out, in, normal(out*in, 0, 0.02), normal(out, 0, 0.01))
	}
	d := c.Dim
	m := &Model{Config: c, Source: "synth:" + c.Arch}
	for i, sh := range c.StemConvs() {
		fan := float64(sh.In * sh.K * sh.K)
		cv := Conv2D{Name: fmt.Sprintf("patch_embed.conv%d", i+1), ConvShape: sh,
			W: normal(sh.Out*sh.In*sh.K*sh.K, 0, math.Sqrt(2/fan)), Gamma: normal(sh.Out, 1, 0.05),
			Beta: normal(sh.Out, 0, 0.02), Mean: normal(sh.Out, 0, 0.02), Var: make([]float32, sh.Out)}
		for o := range cv.Var {
			cv.Var[o] = float32(1 + 0.5*r.Float64())
		}
		cv.fold()
		m.StemLayers = append(m.StemLayers, cv)
	}
	m.PatchEmbed = linear("patch_embed.proj", d, c.PatchInputs())
	m.Cls = normal(d, 0, 0.02)
	if c.Distilled {
		m.Dist = normal(d, 0, 0.02)
	}
	m.Pos = normal(c.Tokens()*d, 0, 0.02)
	m.Blocks = make([]Block, c.Depth)
	for i := range m.Blocks {
		p := fmt.Sprintf("blocks.%d.", i)
		m.Blocks[i] = Block{
			Norm1W: normal(d, 1, 0.05), Norm1B: normal(d, 0, 0.02),
			QKV:    linear(p+"attn.qkv", 3*d, d),
			Proj:   linear(p+"attn.proj", d, d),
			Norm2W: normal(d, 1, 0.05), Norm2B: normal(d, 0, 0.02),
			FC1: linear(p+"mlp.fc1", c.MLPHidden, d),
			FC2: linear(p+"mlp.fc2", d, c.MLPHidden),
		}
	}
	m.NormW, m.NormB = normal(d, 1, 0.05), normal(d, 0, 0.02)
	m.Head = linear("head", c.Classes, d)
	if c.Distilled {
		m.HeadDist = linear("head_dist", c.Classes, d)
	}
	if c.AuxHead {
		m.Aux = linear("aux_head", c.Classes, d)
	}
	if c.NoQKVBias {
		for i := range m.Blocks {
			m.Blocks[i].QKV.B = nil
		}
	}
	return m, nil
}
