//go:build unix

package linalg

import "syscall"

// processCPUSeconds is the user and system CPU time this process has used:
// on a machine shared with other jobs it moves far less with their load
// than wall time does.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
