//go:build !amd64

package crossbar

// codes sets dst[i] = c.code(src[i]).
func (c *coder) codes(dst []int32, src []float32) { c.codesGo(dst, src) }
