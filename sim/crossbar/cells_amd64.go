package crossbar

// writeCellsKernel is writeCellsGo in AVX2 (cells_amd64.s) over values
// 0..m-1 of a chunk of n, m a multiple of 8.
//
//go:noescape
func writeCellsKernel(eff, q *float32, codes *int32, x, eps *float32, m, n int, p *cellParams)
