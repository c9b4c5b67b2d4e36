package keyrand

import "github.com/clipformer/clipformer/sim/linalg"

// normalsAVX2 is normalsGo in AVX2 (normals_amd64.s): steps steps of the
// 16 lanes, two registers of 8, into dst.
//
//go:noescape
func normalsAVX2(state *[4 * normalLanes]uint32, dst *float32, steps int)

// normalsAVX512 is normalsGo in AVX-512 F (normals_amd64.s): the 16 lanes
// in one register.
//
//go:noescape
func normalsAVX512(state *[4 * normalLanes]uint32, dst *float32, steps int)

// normalSteps fills dst (a multiple of 16 long) with steps of the 16 lanes,
// with the kernels of linalg's level (CLIPFORMER_KERNELS): AVX-512, AVX2, or
// pure Go at the generic level.
func normalSteps(state *[4 * normalLanes]uint32, dst []float32) {
	steps := len(dst) / normalLanes
	switch {
	case steps == 0:
	case linalg.Kernels() == linalg.LevelAVX512:
		normalsAVX512(state, &dst[0], steps)
	case linalg.Kernels() == linalg.LevelAVX2:
		normalsAVX2(state, &dst[0], steps)
	default:
		normalsGo(state, dst)
	}
}
