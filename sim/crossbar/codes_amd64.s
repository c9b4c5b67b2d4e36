#include "textflag.h"

// func codesAVX512(dst *int32, src *float32, n int, c *coder)
//
// dst[i] = c.code(float64(src[i])) for a coder with a positive scale: the
// same rounded float64 steps, eight values at a time.
TEXT ·codesAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), R8
	VBROADCASTSD 0(R8), Z20  // inv
	VBROADCASTSD 8(R8), Z21  // gmin
	VBROADCASTSD 16(R8), Z22 // span
	VBROADCASTSD 24(R8), Z23 // shift
	VBROADCASTSD 32(R8), Z24 // cap
	VBROADCASTSD 40(R8), Z25 // toCode
	MOVBLZX 49(R8), R9       // clip
	MOVQ $0x7fffffffffffffff, AX
	VPBROADCASTQ AX, Z26     // |.| mask
	MOVQ $0x3ff0000000000000, AX
	VPBROADCASTQ AX, Z27     // 1.0
	MOVQ $0x3fe0000000000000, AX
	VPBROADCASTQ AX, Z28     // 0.5

loop:
	CMPQ CX, $8
	JGE  full
	TESTQ CX, CX
	JZ   done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	JMP  body

full:
	MOVL $0xff, AX
	KMOVW AX, K1

body:
	VMOVUPS.Z (SI), K1, Y0
	VCVTPS2PD Y0, Z0
	VPANDQ Z26, Z0, Z0  // |x|
	VMULPD Z20, Z0, Z0  // u = |x| inv
	VMINPD Z27, Z0, Z0  // min(u, 1)
	VMULPD Z0, Z22, Z1  // span u
	VADDPD Z1, Z21, Z1  // g = gmin + span u
	TESTQ R9, R9
	JZ    noclip
	VSUBPD Z23, Z1, Z1  // g - shift
	VMAXPD Z21, Z1, Z1  // max(., gmin)
	VMINPD Z24, Z1, Z1  // min(., cap)

noclip:
	VSUBPD Z21, Z1, Z1  // g - gmin
	VMULPD Z25, Z1, Z1  // * toCode
	VADDPD Z28, Z1, Z1  // + 0.5
	VCVTTPD2DQ Z1, Y2   // truncate
	VMOVDQU32 Y2, K1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JG   loop

done:
	VZEROUPPER
	RET

// func codesAVX2(dst *int32, src *float32, n int, c *coder)
//
// codesAVX512's steps in four float64 lanes, for n a multiple of 4 (the
// caller codes the rest with the scalar coder).
TEXT ·codesAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), R8
	VBROADCASTSD 0(R8), Y8   // inv
	VBROADCASTSD 8(R8), Y9   // gmin
	VBROADCASTSD 16(R8), Y10 // span
	VBROADCASTSD 24(R8), Y11 // shift
	VBROADCASTSD 32(R8), Y12 // cap
	VBROADCASTSD 40(R8), Y13 // toCode
	MOVBLZX 49(R8), R9       // clip
	MOVQ $0x7fffffffffffffff, AX
	MOVQ AX, X14
	VPBROADCASTQ X14, Y14    // |.| mask
	MOVQ $0x3ff0000000000000, AX
	MOVQ AX, X15
	VPBROADCASTQ X15, Y15    // 1.0
	MOVQ $0x3fe0000000000000, AX
	MOVQ AX, X7
	VPBROADCASTQ X7, Y7      // 0.5

loop2:
	CMPQ CX, $4
	JL   done2
	VCVTPS2PD (SI), Y0
	VANDPD Y14, Y0, Y0  // |x|
	VMULPD Y8, Y0, Y0   // u = |x| inv
	VMINPD Y15, Y0, Y0  // min(u, 1)
	VMULPD Y0, Y10, Y1  // span u
	VADDPD Y1, Y9, Y1   // g = gmin + span u
	TESTQ R9, R9
	JZ    noclip2
	VSUBPD Y11, Y1, Y1  // g - shift
	VMAXPD Y9, Y1, Y1   // max(., gmin)
	VMINPD Y12, Y1, Y1  // min(., cap)

noclip2:
	VSUBPD Y9, Y1, Y1   // g - gmin
	VMULPD Y13, Y1, Y1  // * toCode
	VADDPD Y7, Y1, Y1   // + 0.5
	VCVTTPD2DQY Y1, X2  // truncate
	VMOVDQU X2, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JMP  loop2

done2:
	VZEROUPPER
	RET
