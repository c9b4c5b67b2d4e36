package keyrand

import "github.com/clipformer/clipformer/sim/linalg"

// normalsAVX2 is normalsGo in AVX2 (normals_amd64.s): steps steps of the
// 16 lanes, two registers of 8, into dst.
//
//go:noescape
func normalsAVX2(state *[4 * normalLanes]uint32, dst *float32, steps int)

// normalSteps fills dst (a multiple of 16 long) with steps of the 16 lanes:
// the AVX2 kernel at the AVX2 and AVX-512 kernel levels (linalg's
// CLIPFORMER_KERNELS), pure Go at the generic one.
func normalSteps(state *[4 * normalLanes]uint32, dst []float32) {
	if steps := len(dst) / normalLanes; steps > 0 && linalg.Kernels() >= linalg.LevelAVX2 {
		normalsAVX2(state, &dst[0], steps)
		return
	}
	normalsGo(state, dst)
}
