package vit

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Pruning is EViT-style token pruning (Liang et al., ICLR 2022): after the
// attention of each listed block, only the KeepRate share of the non-prefix
// tokens that the class token attends to most (its attention averaged over
// heads) go on; with Fuse, the others are merged into one extra token, their
// sum weighted by that attention. The zero value prunes nothing.
type Pruning struct {
	KeepRate float64 // in (0, 1]
	Blocks   []int   // 0-based block indices
	Fuse     bool
}

// ErrPruning marks an invalid pruning setting.
var ErrPruning = errors.New("vit: invalid token pruning")

// On reports whether p prunes anything.
func (p *Pruning) On() bool { return p != nil && len(p.Blocks) > 0 && p.KeepRate < 1 }

func (p *Pruning) at(block int) bool { return p.On() && slices.Contains(p.Blocks, block) }

// Validate checks p against a model of the given depth.
func (p *Pruning) Validate(depth int) error {
	if p == nil || len(p.Blocks) == 0 {
		return nil
	}
	if !(p.KeepRate > 0 && p.KeepRate <= 1) {
		return fmt.Errorf("%w: keep_rate %v must be in (0, 1]", ErrPruning, p.KeepRate)
	}
	seen := map[int]bool{}
	for _, b := range p.Blocks {
		if b < 0 || b >= depth {
			return fmt.Errorf("%w: block %d is not in 0..%d", ErrPruning, b, depth-1)
		}
		if seen[b] {
			return fmt.Errorf("%w: block %d listed twice", ErrPruning, b)
		}
		seen[b] = true
	}
	return nil
}

// String describes p, e.g. "keep 0.7 after blocks 3,6,9, fused".
func (p *Pruning) String() string {
	if !p.On() {
		return "none"
	}
	bs := make([]string, len(p.Blocks))
	for i, b := range p.Blocks {
		bs[i] = fmt.Sprint(b)
	}
	s := fmt.Sprintf("keep %g after blocks %s", p.KeepRate, strings.Join(bs, ","))
	if p.Fuse {
		s += ", fused"
	}
	return s
}

// kept is the number of non-prefix tokens kept out of rest.
func (p *Pruning) kept(rest int) int {
	return min(rest, int(math.Ceil(p.KeepRate*float64(rest))))
}

// TokensPerBlock is the number of tokens each block's attention sees.
func (p *Pruning) TokensPerBlock(c *Config) []int {
	attn, _ := p.tokens(c)
	return attn
}

// TokensAfter is the number of tokens that leave the last block.
func (p *Pruning) TokensAfter(c *Config) int {
	_, after := p.tokens(c)
	return after
}

func (p *Pruning) tokens(c *Config) ([]int, int) {
	attn := make([]int, c.Depth)
	n, pre := c.Tokens(), c.PrefixTokens()
	for b := range attn {
		attn[b] = n
		if p.at(b) {
			if k := p.kept(n - pre); k < n-pre {
				n = pre + k
				if p.Fuse {
					n++
				}
			}
		}
	}
	return attn, n
}

// pruneTokens prunes x (batch images of n tokens of width d, pre prefix
// tokens) in place, using the class-token attention summed over heads in
// ws.clsAttn, and returns the new token count.
func (ws *Workspace) pruneTokens(p *Pruning, x []float32, batch, n, d, pre int) int {
	rest := n - pre
	k := p.kept(rest)
	if k >= rest {
		return n
	}
	nn := pre + k
	if p.Fuse {
		nn++
	}
	for b := 0; b < batch; b++ {
		att := ws.clsAttn[b*n : (b+1)*n]
		order := ws.order[:rest]
		for i := range order {
			order[i] = pre + i
		}
		// Most attended first; ties by position, so the order is total.
		sort.SliceStable(order, func(i, j int) bool { return att[order[i]] > att[order[j]] })
		src := x[b*n*d : (b+1)*n*d]
		dst := ws.pruned[:nn*d]
		copy(dst[:pre*d], src[:pre*d])
		for i, t := range order[:k] {
			copy(dst[(pre+i)*d:(pre+i+1)*d], src[t*d:(t+1)*d])
		}
		if p.Fuse {
			// The heads' average attention weights the fused token, as in
			// EViT; att holds the sum over heads.
			fused := dst[(pre+k)*d : (pre+k+1)*d]
			clear(fused)
			heads := float32(ws.heads)
			for _, t := range order[k:] {
				w := att[t] / heads
				for j, v := range src[t*d : (t+1)*d] {
					fused[j] += w * v
				}
			}
		}
		// Images are compacted in order, so an image's new rows never
		// overlap a later image's old ones.
		copy(x[b*nn*d:(b+1)*nn*d], dst)
	}
	return nn
}
