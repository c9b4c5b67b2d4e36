package linalg

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func maxAbsAVX512(x *float32, n int) float32

//go:noescape
func sum16AVX512(x *float32, n int) float32

//go:noescape
func scaleAVX512(x *float32, n int, s float32)

//go:noescape
func addAVX512(dst, x *float32, n int)

//go:noescape
func roundScaleAVX512(dst, x *float32, n int, k, unit float32)
