//go:build !unix

package sim

import "time"

// processCPUTime is not measured here; the benchmarks then report wall-time
// rates only.
func processCPUTime() time.Duration { return 0 }

// processCPUSeconds is processCPUTime in seconds.
func processCPUSeconds() float64 { return processCPUTime().Seconds() }
