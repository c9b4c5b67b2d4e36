package linalg

import "math"

// AddNoise adds s sqrt(v[i]) eps[i] to y[i] for every i < len(y): the read
// noise of outputs whose noise variances at unit scale are v, with standard
// normal draws eps. Each step is a rounded float32 operation:
//
//	y[i] = y[i] + float32(float32(sqrt(v[i]) * s) * eps[i])
//
// with the square root correctly rounded; the AVX2 kernel and the pure-Go
// loop give the same bits.
func AddNoise(y, v, eps []float32, s float32) {
	n := len(y)
	_, _ = v[:n], eps[:n]
	done := 0
	if n >= 8 && Kernels() >= LevelAVX2 {
		done = n &^ 7
		addNoiseKernel(&y[0], &v[0], &eps[0], done, s)
	}
	addNoiseGo(y[done:n], v[done:n], eps[done:n], s)
}

func addNoiseGo(y, v, eps []float32, s float32) {
	for i := range y {
		sd := float32(math.Sqrt(float64(v[i])))
		y[i] += float32(float32(sd*s) * eps[i])
	}
}
