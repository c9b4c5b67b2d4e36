package crossbar

import "github.com/clipformer/clipformer/sim/linalg"

//go:noescape
func codesAVX512(dst *int32, src *float32, n int, c *coder)

//go:noescape
func codesAVX2(dst *int32, src *float32, n int, c *coder)

// codes sets dst[i] = c.code(src[i]), with the vector kernels of the level
// linalg runs (they give the scalar coder's codes).
func (c *coder) codes(dst []int32, src []float32) {
	if c.zero || len(src) == 0 {
		c.codesGo(dst, src)
		return
	}
	switch linalg.Kernels() {
	case linalg.LevelAVX512:
		codesAVX512(&dst[0], &src[0], len(src), c)
	case linalg.LevelAVX2:
		n := len(src) &^ 3
		dst = dst[:len(src)]
		if n > 0 {
			codesAVX2(&dst[0], &src[0], n, c)
		}
		c.codesGo(dst[n:], src[n:])
	default:
		c.codesGo(dst, src)
	}
}
