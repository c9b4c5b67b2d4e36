package linalg

//go:noescape
func expShiftedAVX512(x *float32, n int, mx, scale float32)

//go:noescape
func geluAVX512(x *float32, n int)
