//go:build !unix

package linalg

// processCPUSeconds is not measured on this system.
func processCPUSeconds() float64 { return 0 }
