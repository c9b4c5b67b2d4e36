//go:build !amd64

package linalg

func addNoiseKernel(y, v, eps *float32, n int, s float32) {
	panic("linalg: no AddNoise kernel on this architecture")
}
