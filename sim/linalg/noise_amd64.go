package linalg

// addNoiseKernel is AddNoise's loop in AVX2 (noise_amd64.s) over n
// elements, n a multiple of 8.
//
//go:noescape
func addNoiseKernel(y, v, eps *float32, n int, s float32)
