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
