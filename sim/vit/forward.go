package vit

import (
	"math"

	"github.com/clipformer/clipformer/sim/linalg"
)

// LinearKind names a static linear's role.
type LinearKind int

// Linear roles.
const (
	PatchEmbed LinearKind = iota
	QKV
	Proj
	FC1
	FC2
	Head
	HeadDist
	AuxHead
)

var linearKindNames = [...]string{"patch_embed", "qkv", "proj", "fc1", "fc2", "head", "head_dist", "aux_head"}

func (k LinearKind) String() string { return linearKindNames[k] }

// LinearID identifies one static linear: its role and block (-1 outside the
// encoder blocks).
type LinearID struct {
	Block int
	Kind  LinearKind
}

// Attention is one head's attention core for one image: Out = softmax(Q KT *
// Scale) V, where Q, V and Out are Tokens x HeadDim and KT = K^T is HeadDim x
// Tokens, all row-major.
type Attention struct {
	Block, Head int
	Image       int // the image's index in its dataset: the key of its random draws
	Tokens      int
	HeadDim     int
	Scale       float32
	Q, KT, V    []float32
	Out         []float32
	// CLSAttn, when set (Tokens long), receives the class token's attention
	// row softmax(q_cls K^T * Scale) added to it, as the ops computed it
	// (with its noise): token pruning ranks tokens by it.
	CLSAttn []float32
}

// Ops computes the parts of the forward pass that a crossbar may execute.
// Implementations must be safe for use by one goroutine at a time; use one
// per goroutine.
type Ops interface {
	// Linear sets dst (rows x l.Out) = x (rows x l.In) W^T + b.
	Linear(id LinearID, l *Linear, dst, x []float32, rows int)
	// Attention computes a.Out.
	Attention(a *Attention)
}

// Ideal is the float32 model: every Ops call is computed digitally.
type Ideal struct {
	scores []float32
}

// Linear implements Ops.
func (*Ideal) Linear(_ LinearID, l *Linear, dst, x []float32, rows int) {
	DigitalLinear(l, dst, x, rows)
}

// Attention implements Ops.
func (o *Ideal) Attention(a *Attention) {
	o.scores = DigitalAttention(a, o.scores)
}

// DigitalLinear sets dst = x W^T + b in float32.
func DigitalLinear(l *Linear, dst, x []float32, rows int) {
	linalg.MatMul(rows, l.Out, l.In, x, l.In, l.WT, l.Out, dst, l.Out, false)
	linalg.AddBias(dst, rows, l.Out, l.B)
}

// DigitalAttention computes a.Out in float32 and returns the scores buffer it
// used (Tokens x Tokens), grown from scratch if needed, for reuse.
func DigitalAttention(a *Attention, scratch []float32) []float32 {
	n, hd := a.Tokens, a.HeadDim
	s := grow(scratch, n*n)
	linalg.MatMul(n, n, hd, a.Q, hd, a.KT, n, s, n, false)
	linalg.SoftmaxRows(s, n, n, a.Scale)
	if a.CLSAttn != nil {
		linalg.Add(a.CLSAttn[:n], s[:n])
	}
	linalg.MatMul(n, hd, n, s, n, a.V, hd, a.Out, hd, false)
	return s
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Workspace holds the activations of a batch; reuse one per goroutine.
type Workspace struct {
	// Prune, when set, prunes tokens EViT-style during Forward.
	Prune *Pruning

	batch                  int
	patches, x, h, qkv, at []float32
	mlp, cls, logits2      []float32
	q, k, v, out           []float32
	clsAttn, pruned        []float32
	stemA, stemB, stemCols []float32 // LV-ViT stem activations (HWC) and patches
	order                  []int
	heads                  int
	attn                   Attention
}

func (ws *Workspace) ensure(c *Config, batch int) {
	if ws.batch >= batch && ws.x != nil {
		return
	}
	n, d := c.Tokens(), c.Dim
	rows := batch * n
	ws.batch = batch
	ws.patches = make([]float32, batch*c.Patches()*c.PatchInputs())
	ws.x = make([]float32, rows*d)
	ws.h = make([]float32, rows*d) // also holds the patch embeddings: Patches < Tokens
	ws.qkv = make([]float32, rows*3*d)
	ws.at = make([]float32, rows*d)
	ws.mlp = make([]float32, rows*c.MLPHidden)
	ws.cls = make([]float32, batch*2*d)
	ws.logits2 = make([]float32, batch*c.Classes)
	hd := c.HeadDim()
	ws.q = make([]float32, n*hd)
	ws.k = make([]float32, n*hd)
	ws.v = make([]float32, n*hd)
	ws.out = make([]float32, n*hd)
	ws.clsAttn = make([]float32, batch*n)
	ws.pruned = make([]float32, n*d)
	ws.order = make([]int, n)
	ws.heads = c.Heads
	if c.Stem > 0 {
		side := c.ImgSize / 2
		ws.stemA = make([]float32, max(side*side*c.Stem, c.ImgSize*c.ImgSize*c.InChans))
		ws.stemB = make([]float32, side*side*c.Stem)
		ws.stemCols = make([]float32, side*side*c.Stem*9+side*side*c.InChans*49)
	}
	if c.AuxHead {
		ws.logits2 = make([]float32, rows*c.Classes)
	}
}

// Forward runs a batch of normalised images (batch x C x H x W, the batch
// size being len(indices)) through the model, computing the crossbar-mappable
// parts with ops, and writes batch x Classes logits. indices are the images'
// dataset indices, which key their random draws.
func (m *Model) Forward(ops Ops, ws *Workspace, images []float32, indices []int, logits []float32) {
	c := &m.Config
	batch := len(indices)
	ws.ensure(c, batch)
	n, d, np, pin := c.Tokens(), c.Dim, c.Patches(), c.PatchInputs()
	pre := c.PrefixTokens()
	imgLen := c.InChans * c.ImgSize * c.ImgSize
	for b := 0; b < batch; b++ {
		dst, img := ws.patches[b*np*pin:(b+1)*np*pin], images[b*imgLen:(b+1)*imgLen]
		if c.Stem > 0 {
			m.stem(ws, dst, img)
		} else {
			im2col(dst, img, c)
		}
	}
	emb := ws.h[:batch*np*d]
	ops.Linear(LinearID{-1, PatchEmbed}, &m.PatchEmbed, emb, ws.patches[:batch*np*pin], batch*np)
	for b := 0; b < batch; b++ {
		x := ws.x[b*n*d : (b+1)*n*d]
		copy(x[:d], m.Cls)
		if c.Distilled {
			copy(x[d:2*d], m.Dist)
		}
		copy(x[pre*d:], emb[b*np*d:(b+1)*np*d])
		linalg.Add(x, m.Pos)
	}
	rows := batch * n
	x, h := ws.x[:rows*d], ws.h[:rows*d]
	hd := c.HeadDim()
	lam := c.skipLam()
	for bi := range m.Blocks {
		blk := &m.Blocks[bi]
		prune := ws.Prune.at(bi)
		linalg.LayerNorm(h, x, rows, d, blk.Norm1W, blk.Norm1B, 1e-6)
		ops.Linear(LinearID{bi, QKV}, &blk.QKV, ws.qkv[:rows*3*d], h, rows)
		a := &ws.attn
		*a = Attention{Block: bi, Tokens: n, HeadDim: hd, Scale: float32(1 / math.Sqrt(float64(hd))),
			Q: ws.q[:n*hd], KT: ws.k[:n*hd], V: ws.v[:n*hd], Out: ws.out[:n*hd]}
		for b := 0; b < batch; b++ {
			a.Image = indices[b]
			if prune {
				a.CLSAttn = ws.clsAttn[b*n : (b+1)*n]
				clear(a.CLSAttn)
			}
			qkv := ws.qkv[b*n*3*d : (b+1)*n*3*d]
			at := ws.at[b*n*d : (b+1)*n*d]
			for head := 0; head < c.Heads; head++ {
				a.Head = head
				for t := 0; t < n; t++ {
					row := qkv[t*3*d:]
					copy(ws.q[t*hd:(t+1)*hd], row[head*hd:])
					for j, v := range row[d+head*hd : d+(head+1)*hd] {
						ws.k[j*n+t] = v
					}
					copy(ws.v[t*hd:(t+1)*hd], row[2*d+head*hd:])
				}
				ops.Attention(a)
				for t := 0; t < n; t++ {
					copy(at[t*d+head*hd:t*d+(head+1)*hd], ws.out[t*hd:(t+1)*hd])
				}
			}
		}
		ops.Linear(LinearID{bi, Proj}, &blk.Proj, h, ws.at[:rows*d], rows)
		divide(h, lam)
		linalg.Add(x, h)
		if prune {
			n = ws.pruneTokens(ws.Prune, x, batch, n, d, pre)
			rows = batch * n
			x, h = ws.x[:rows*d], ws.h[:rows*d]
		}
		linalg.LayerNorm(h, x, rows, d, blk.Norm2W, blk.Norm2B, 1e-6)
		mlp := ws.mlp[:rows*c.MLPHidden]
		ops.Linear(LinearID{bi, FC1}, &blk.FC1, mlp, h, rows)
		linalg.GELU(mlp)
		ops.Linear(LinearID{bi, FC2}, &blk.FC2, h, mlp, rows)
		divide(h, lam)
		linalg.Add(x, h)
	}
	if c.AuxHead {
		m.lvvitHeads(ops, ws, x, batch, n, logits)
		return
	}
	// Only the prefix tokens reach the heads; LayerNorm is per token.
	cls := ws.cls[:batch*pre*d]
	for b := 0; b < batch; b++ {
		copy(cls[b*pre*d:(b+1)*pre*d], x[b*n*d:b*n*d+pre*d])
	}
	linalg.LayerNorm(cls, cls, batch*pre, d, m.NormW, m.NormB, 1e-6)
	if !c.Distilled {
		ops.Linear(LinearID{-1, Head}, &m.Head, logits[:batch*c.Classes], cls, batch)
		return
	}
	// DeiT distilled inference: the mean of the class and distillation heads.
	tok := ws.at[:batch*d]
	for b := 0; b < batch; b++ {
		copy(tok[b*d:(b+1)*d], cls[b*2*d:b*2*d+d])
	}
	ops.Linear(LinearID{-1, Head}, &m.Head, logits[:batch*c.Classes], tok, batch)
	for b := 0; b < batch; b++ {
		copy(tok[b*d:(b+1)*d], cls[b*2*d+d:(b+1)*2*d])
	}
	l2 := ws.logits2[:batch*c.Classes]
	ops.Linear(LinearID{-1, HeadDist}, &m.HeadDist, l2, tok, batch)
	for i := range l2 {
		logits[i] = (logits[i] + l2[i]) / 2
	}
}

// im2col flattens the non-overlapping patches of one CHW image into rows of
// (c, ky, kx)-ordered values, matching the conv kernel's layout.
func im2col(dst, img []float32, c *Config) {
	p, s, g := c.Patch, c.ImgSize, c.ImgSize/c.Patch
	i := 0
	for py := 0; py < g; py++ {
		for px := 0; px < g; px++ {
			for ch := 0; ch < c.InChans; ch++ {
				base := ch * s * s
				for ky := 0; ky < p; ky++ {
					row := base + (py*p+ky)*s + px*p
					copy(dst[i:i+p], img[row:row+p])
					i += p
				}
			}
		}
	}
}

// Normalize converts an image of [0,1] pixels (CHW) in place to the model's
// input: (x - mean[c]) / std[c].
func (c *Config) Normalize(img []float32) {
	hw := len(img) / c.InChans
	for ch := 0; ch < c.InChans; ch++ {
		m, s := c.Mean[ch], c.Std[ch]
		px := img[ch*hw : (ch+1)*hw]
		for i := range px {
			px[i] = (px[i] - m) / s
		}
	}
}

// divide sets x[i] /= lam, as LV-ViT scales its residual branches (a
// division, not a product with 1/lam, for PyTorch's rounding).
func divide(x []float32, lam float32) {
	if lam == 1 {
		return
	}
	for i := range x {
		x[i] /= lam
	}
}

// lvvitHeads is LV-ViT's inference output: the final LayerNorm on every
// token, head on the class token plus half the per-class maximum of
// aux_head over the patch tokens.
func (m *Model) lvvitHeads(ops Ops, ws *Workspace, x []float32, batch, n int, logits []float32) {
	c := &m.Config
	d, k := c.Dim, c.Classes
	h := ws.h[:batch*n*d]
	linalg.LayerNorm(h, x, batch*n, d, m.NormW, m.NormB, 1e-6)
	cls := ws.cls[:batch*d]
	for b := 0; b < batch; b++ {
		copy(cls[b*d:(b+1)*d], h[b*n*d:b*n*d+d])
	}
	ops.Linear(LinearID{-1, Head}, &m.Head, logits[:batch*k], cls, batch)
	// The patch tokens of all images, packed.
	pt := n - 1
	tok := ws.at[:batch*pt*d]
	for b := 0; b < batch; b++ {
		copy(tok[b*pt*d:(b+1)*pt*d], h[b*n*d+d:(b+1)*n*d])
	}
	aux := ws.logits2[:batch*pt*k]
	ops.Linear(LinearID{-1, AuxHead}, &m.Aux, aux, tok, batch*pt)
	for b := 0; b < batch; b++ {
		for j := 0; j < k; j++ {
			best := aux[b*pt*k+j]
			for t := 1; t < pt; t++ {
				best = max(best, aux[(b*pt+t)*k+j])
			}
			logits[b*k+j] += 0.5 * best
		}
	}
}

// stem runs LV-ViT's convolutional stem on one normalised CHW image and
// writes its patches (the patch embedding's input rows) to dst.
func (m *Model) stem(ws *Workspace, dst, img []float32) {
	c := &m.Config
	side := c.ImgSize
	// HWC from here on: a convolution is then one matrix product.
	src := ws.stemA[:side*side*c.InChans]
	for ch := 0; ch < c.InChans; ch++ {
		for i, v := range img[ch*side*side : (ch+1)*side*side] {
			src[i*c.InChans+ch] = v
		}
	}
	chans := c.InChans
	a, b := ws.stemA, ws.stemB
	for i := range m.StemLayers {
		cv := &m.StemLayers[i]
		out := cv.OutSize(side)
		cols := ws.stemCols[:out*out*chans*cv.K*cv.K]
		convCols(cols, a[:side*side*chans], side, chans, cv.K, cv.Stride, cv.Pad)
		y := b[:out*out*cv.Out]
		linalg.MatMul(out*out, cv.Out, chans*cv.K*cv.K, cols, chans*cv.K*cv.K, cv.WT, cv.Out, y, cv.Out, false)
		linalg.AddBias(y, out*out, cv.Out, cv.B)
		for j, v := range y {
			if v < 0 {
				y[j] = 0
			}
		}
		a, b, side, chans = b, a, out, cv.Out
	}
	p := c.Patch / 2
	convCols(dst, a[:side*side*chans], side, chans, p, p, 0)
}

// convCols writes the input rows of a convolution of an HWC image (side x
// side x chans): one row per output position, in (channel, ky, kx) order as
// PyTorch flattens a kernel; zero padding.
func convCols(dst, src []float32, side, chans, k, stride, pad int) {
	out := (side+2*pad-k)/stride + 1
	i := 0
	for oy := 0; oy < out; oy++ {
		for ox := 0; ox < out; ox++ {
			for ch := 0; ch < chans; ch++ {
				for ky := 0; ky < k; ky++ {
					iy := oy*stride - pad + ky
					for kx := 0; kx < k; kx++ {
						ix := ox*stride - pad + kx
						if iy < 0 || iy >= side || ix < 0 || ix >= side {
							dst[i] = 0
						} else {
							dst[i] = src[(iy*side+ix)*chans+ch]
						}
						i++
					}
				}
			}
		}
	}
}
