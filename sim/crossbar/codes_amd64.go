package crossbar

import "github.com/clipformer/clipformer/sim/linalg"

//go:noescape
func codesAVX512(dst *int32, src *float32, n int, c *coder)

// codes sets dst[i] = c.code(src[i]).
func (c *coder) codes(dst []int32, src []float32) {
	if linalg.AVX512() && !c.zero && len(src) > 0 {
		codesAVX512(&dst[0], &src[0], len(src), c)
		return
	}
	c.codesGo(dst, src)
}
