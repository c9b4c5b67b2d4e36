package vit

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/clipformer/clipformer/sim/linalg"
)

func pruneTestModel(t *testing.T, distilled bool) *Model {
	t.Helper()
	c := Config{Arch: "prune-test", ImgSize: 16, InChans: 1, Patch: 4, Dim: 32, Depth: 4, Heads: 2, MLPHidden: 64, Classes: 5,
		Mean: []float32{0.5}, Std: []float32{0.5}, Distilled: distilled}
	m, err := Synth(c, 9)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomImages(n, size int) []float32 {
	r := rand.New(rand.NewPCG(4, 5))
	out := make([]float32, n*size)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// slowPrunedForward is an independent per-image forward with pruning: plain
// slices, one image at a time, the selection done by sorting explicitly.
func slowPrunedForward(m *Model, p *Pruning, img []float32) []float32 {
	c := &m.Config
	n, d, pre, hd := c.Tokens(), c.Dim, c.PrefixTokens(), c.HeadDim()
	np, pin := c.Patches(), c.PatchInputs()
	patches := make([]float32, np*pin)
	im2col(patches, img, c)
	emb := make([]float32, np*d)
	DigitalLinear(&m.PatchEmbed, emb, patches, np)
	x := make([]float32, n*d)
	copy(x, m.Cls)
	if c.Distilled {
		copy(x[d:], m.Dist)
	}
	copy(x[pre*d:], emb)
	linalg.Add(x, m.Pos)
	for bi := range m.Blocks {
		blk := &m.Blocks[bi]
		h := make([]float32, n*d)
		linalg.LayerNorm(h, x, n, d, blk.Norm1W, blk.Norm1B, 1e-6)
		qkv := make([]float32, n*3*d)
		DigitalLinear(&blk.QKV, qkv, h, n)
		at := make([]float32, n*d)
		cls := make([]float32, n)
		for head := 0; head < c.Heads; head++ {
			q, kt, v, out := make([]float32, n*hd), make([]float32, n*hd), make([]float32, n*hd), make([]float32, n*hd)
			for t := 0; t < n; t++ {
				for j := 0; j < hd; j++ {
					q[t*hd+j] = qkv[t*3*d+head*hd+j]
					kt[j*n+t] = qkv[t*3*d+d+head*hd+j]
					v[t*hd+j] = qkv[t*3*d+2*d+head*hd+j]
				}
			}
			a := &Attention{Tokens: n, HeadDim: hd, Scale: float32(1 / math.Sqrt(float64(hd))), Q: q, KT: kt, V: v, Out: out, CLSAttn: cls}
			DigitalAttention(a, nil)
			for t := 0; t < n; t++ {
				copy(at[t*d+head*hd:t*d+(head+1)*hd], out[t*hd:(t+1)*hd])
			}
		}
		DigitalLinear(&blk.Proj, h, at, n)
		linalg.Add(x, h)
		if p.at(bi) {
			rest := n - pre
			k := int(math.Ceil(p.KeepRate * float64(rest)))
			if k < rest {
				idx := make([]int, rest)
				for i := range idx {
					idx[i] = pre + i
				}
				sort.SliceStable(idx, func(i, j int) bool { return cls[idx[i]] > cls[idx[j]] })
				var nx []float32
				nx = append(nx, x[:pre*d]...)
				for _, tk := range idx[:k] {
					nx = append(nx, x[tk*d:(tk+1)*d]...)
				}
				if p.Fuse {
					f := make([]float32, d)
					for _, tk := range idx[k:] {
						w := cls[tk] / float32(c.Heads)
						for j := 0; j < d; j++ {
							f[j] += w * x[tk*d+j]
						}
					}
					nx = append(nx, f...)
				}
				x = nx
				n = len(x) / d
			}
		}
		h = make([]float32, n*d)
		linalg.LayerNorm(h, x, n, d, blk.Norm2W, blk.Norm2B, 1e-6)
		mlp := make([]float32, n*c.MLPHidden)
		DigitalLinear(&blk.FC1, mlp, h, n)
		linalg.GELU(mlp)
		DigitalLinear(&blk.FC2, h, mlp, n)
		linalg.Add(x, h)
	}
	clsTok := make([]float32, pre*d)
	linalg.LayerNorm(clsTok, x[:pre*d], pre, d, m.NormW, m.NormB, 1e-6)
	logits := make([]float32, c.Classes)
	DigitalLinear(&m.Head, logits, clsTok[:d], 1)
	if c.Distilled {
		l2 := make([]float32, c.Classes)
		DigitalLinear(&m.HeadDist, l2, clsTok[d:2*d], 1)
		for i := range logits {
			logits[i] = (logits[i] + l2[i]) / 2
		}
	}
	return logits
}

func TestPrunedForwardMatchesAnIndependentPerImageForward(t *testing.T) {
	for _, distilled := range []bool{false, true} {
		for _, p := range []Pruning{{KeepRate: 0.7, Blocks: []int{1, 2}, Fuse: true}, {KeepRate: 0.5, Blocks: []int{0, 3}}} {
			m := pruneTestModel(t, distilled)
			const batch = 5
			imgLen := m.InChans * m.ImgSize * m.ImgSize
			images := randomImages(batch, imgLen)
			ws := &Workspace{Prune: &p}
			logits := make([]float32, batch*m.Classes)
			m.Forward(&Ideal{}, ws, images, []int{0, 1, 2, 3, 4}, logits)
			for b := 0; b < batch; b++ {
				want := slowPrunedForward(m, &p, images[b*imgLen:(b+1)*imgLen])
				for j, w := range want {
					if g := logits[b*m.Classes+j]; math.Abs(float64(g-w)) > 1e-5 {
						t.Fatalf("distilled %v, %s, image %d logit %d: batched %v, per-image %v", distilled, p.String(), b, j, g, w)
					}
				}
			}
		}
	}
}

func TestKeepRateOneChangesNothing(t *testing.T) {
	m := pruneTestModel(t, false)
	imgLen := m.InChans * m.ImgSize * m.ImgSize
	images := randomImages(3, imgLen)
	a, b := make([]float32, 3*m.Classes), make([]float32, 3*m.Classes)
	m.Forward(&Ideal{}, &Workspace{}, images, []int{0, 1, 2}, a)
	m.Forward(&Ideal{}, &Workspace{Prune: &Pruning{KeepRate: 1, Blocks: []int{1}, Fuse: true}}, images, []int{0, 1, 2}, b)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestTokensPerBlockOfDeiTSmallWithEViTDefaults(t *testing.T) {
	c := Presets["deit-small"]
	p := &Pruning{KeepRate: 0.7, Blocks: []int{3, 6, 9}, Fuse: true}
	got := p.TokensPerBlock(&c)
	// 196 patches: keep ceil(0.7 x 196) = 138 (+ cls + fused = 140), then
	// ceil(0.7 x 139) = 98 (100), then ceil(0.7 x 99) = 70 (72).
	want := []int{197, 197, 197, 197, 140, 140, 140, 100, 100, 100, 72, 72}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tokens per block %v, want %v", got, want)
		}
	}
	if p.TokensAfter(&c) != 72 {
		t.Fatalf("after: %d", p.TokensAfter(&c))
	}
	if err := (&Pruning{KeepRate: 0.7, Blocks: []int{12}}).Validate(12); err == nil {
		t.Fatal("block 12 of 12 accepted")
	}
	if err := (&Pruning{KeepRate: 0, Blocks: []int{1}}).Validate(12); err == nil {
		t.Fatal("keep rate 0 accepted")
	}
}
