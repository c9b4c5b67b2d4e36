//go:build !unix

package crossbar

// processCPUSeconds is not measured on this system.
func processCPUSeconds() float64 { return 0 }
