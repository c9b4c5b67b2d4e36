//go:build !amd64

package crossbar

func writeCellsKernel(eff, q *float32, codes *int32, x, eps *float32, m, n int, p *cellParams) {
	panic("crossbar: no cell-write kernel on this architecture")
}
