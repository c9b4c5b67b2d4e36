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

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func maxAbsAVX2(x *float32, n int) float32

//go:noescape
func sum16AVX2(x *float32, n int) float32

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

//go:noescape
func addAVX2(dst, x *float32, n int)

//go:noescape
func roundScaleAVX2(dst, x *float32, n int, k, unit float32)
