//go:build unix

package sim

import (
	"syscall"
	"time"
)

// processCPUTime is the user and system CPU time this process has used.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPUSeconds is processCPUTime in seconds.
func processCPUSeconds() float64 { return processCPUTime().Seconds() }
