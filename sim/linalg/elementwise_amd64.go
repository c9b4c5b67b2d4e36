package linalg

//go:noescape
func expShiftedAVX512(x *float32, n int, mx, scale float32)

//go:noescape
func geluAVX512(x *float32, n int)

//go:noescape
func expShiftedAVX2(x *float32, n int, mx, scale float32)

//go:noescape
func geluAVX2(x *float32, n int)

// tailMask8 is eight -1 then eight 0: the AVX2 kernels load the mask of the
// first r lanes from &tailMask8[8-r].
var tailMask8 = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}
