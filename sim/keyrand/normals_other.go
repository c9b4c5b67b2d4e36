//go:build !amd64

package keyrand

// normalSteps fills dst (a multiple of 16 long) with steps of the 16 lanes.
func normalSteps(state *[4 * normalLanes]uint32, dst []float32) { normalsGo(state, dst) }
