#include "textflag.h"

// VDPBF16PS Z(d), Z(s1), Z(s2) (register form, registers 0 to 15): the Go
// assembler does not know AVX512_BF16, so the EVEX encoding is spelled out:
// 62, P0 (R, B inverted; map 0F38), P1 (vvvv = s1 inverted; W0; F3), P2
// (512 bits; V' inverted), opcode 52, ModRM (d, s2).
#define DPBF16(d, s2, s1) BYTE $0x62; BYTE $(0x52 | ((((d)>>3)&1)^1)<<7 | ((((s2)>>3)&1)^1)<<5); BYTE $(0x06 | (((s1)&15)^15)<<3); BYTE $0x48; BYTE $0x52; BYTE $(0xC0 | ((d)&7)<<3 | ((s2)&7))

// func dpbf4x32(tp int, a *uint16, lda int, b *uint16, c *float32, ldc int, mask uint32)
TEXT ·dpbf4x32(SB), NOSPLIT, $0-52
	MOVQ tp+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), BX
	MOVQ c+32(FP), DI
	MOVQ ldc+40(FP), R9
	MOVL mask+48(FP), DX
	KMOVW DX, K1
	SHRL $16, DX
	KMOVW DX, K2
	LEAQ (R8)(R8*2), R10
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

loop4:
	VMOVDQU32 (BX), Z8
	VMOVDQU32 64(BX), Z9
	VPBROADCASTD (AX), Z10
	VPBROADCASTD (AX)(R8*1), Z11
	VPBROADCASTD (AX)(R8*2), Z12
	VPBROADCASTD (AX)(R10*1), Z13
	DPBF16(0, 8, 10)
	DPBF16(1, 9, 10)
	DPBF16(2, 8, 11)
	DPBF16(3, 9, 11)
	DPBF16(4, 8, 12)
	DPBF16(5, 9, 12)
	DPBF16(6, 8, 13)
	DPBF16(7, 9, 13)
	ADDQ $4, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  loop4

	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	VMOVUPS Z2, K1, (DI)(R9*1)
	VMOVUPS Z3, K2, 64(DI)(R9*1)
	LEAQ (DI)(R9*2), DI
	VMOVUPS Z4, K1, (DI)
	VMOVUPS Z5, K2, 64(DI)
	VMOVUPS Z6, K1, (DI)(R9*1)
	VMOVUPS Z7, K2, 64(DI)(R9*1)
	VZEROUPPER
	RET

// func dpbf1x32(tp int, a *uint16, b *uint16, c *float32, mask uint32)
TEXT ·dpbf1x32(SB), NOSPLIT, $0-36
	MOVQ tp+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVL mask+32(FP), DX
	KMOVW DX, K1
	SHRL $16, DX
	KMOVW DX, K2
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1

loop1:
	VMOVDQU32 (BX), Z8
	VMOVDQU32 64(BX), Z9
	VPBROADCASTD (AX), Z10
	DPBF16(0, 8, 10)
	DPBF16(1, 9, 10)
	ADDQ $4, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  loop1

	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	VZEROUPPER
	RET

#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, bits; DATA name<>+4(SB)/4, bits; \
	DATA name<>+8(SB)/4, bits; DATA name<>+12(SB)/4, bits; \
	DATA name<>+16(SB)/4, bits; DATA name<>+20(SB)/4, bits; \
	DATA name<>+24(SB)/4, bits; DATA name<>+28(SB)/4, bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(bf16_min, $0x20000000) // 2^-63
CONST8(bf16_one, $1)
CONST8(bf16_half, $0x7fff)

// BF16R rounds 8 floats in X to bfloat16 (in the low 16 bits of each
// lane) as BF16 does: zero below 2^-63 (and for negatives and NaN), with M
// and T as scratch.
#define BF16R(X, M, T) \
	VCMPPS $0x1d, bf16_min<>(SB), X, M; \
	VPSRLD $16, X, T; VPAND bf16_one<>(SB), T, T; VPADDD bf16_half<>(SB), T, T; \
	VPADDD T, X, X; VPSRLD $16, X, X; VPAND M, X, X

// func squaresBF16Kernel(dst *uint16, x *float32, n int)
TEXT ·squaresBF16Kernel(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX

sqloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMULPS Y0, Y0, Y0
	VMULPS Y1, Y1, Y1
	BF16R(Y0, Y2, Y4)
	BF16R(Y1, Y3, Y5)
	VPACKUSDW Y1, Y0, Y0
	VPERMQ $0xD8, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  sqloop
	VZEROUPPER
	RET

// func packPairsKernel(dst *uint16, r0, r1 *float32, n int)
TEXT ·packPairsKernel(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX

pairloop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	BF16R(Y0, Y2, Y4)
	BF16R(Y1, Y3, Y5)
	VPSLLD $16, Y1, Y1
	VPOR Y1, Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  pairloop
	VZEROUPPER
	RET
