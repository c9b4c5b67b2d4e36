#include "textflag.h"

// normalsAVX2: normalsGo in AVX2, lanes 0-7 in Y0-Y3 (s0..s3), lanes 8-15
// in Y4-Y7; every floating-point step is one rounded VMULPS, VADDPS,
// VSUBPS or VSQRTPS, as the Go twin rounds them.

#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, bits; DATA name<>+4(SB)/4, bits; \
	DATA name<>+8(SB)/4, bits; DATA name<>+12(SB)/4, bits; \
	DATA name<>+16(SB)/4, bits; DATA name<>+20(SB)/4, bits; \
	DATA name<>+24(SB)/4, bits; DATA name<>+28(SB)/4, bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(nrm_abs, $0x7fffffff)
CONST8(nrm_sign, $0x80000000)
CONST8(nrm_mant, $0x007fffff)
CONST8(nrm_halfexp, $0x3f000000)
CONST8(nrm_i126, $126)
CONST8(nrm_2m31, $0x30000000)
CONST8(nrm_2m32, $0x2f800000)
CONST8(nrm_one, $0x3f800000)
CONST8(nrm_two, $0x40000000)
CONST8(nrm_sqrthalf, $0x3f3504f3)
CONST8(nrm_lq1, $0xb95e8083)
CONST8(nrm_mhalf, $0xbf000000)
CONST8(nrm_lq2, $0x3f318000)
CONST8(nrm_c25, $0x40200000)
CONST8(nrm_c3, $0x40400000)
CONST8(nrm_c5, $0x40a00000)
CONST8(nrm_sqrt2, $0x3fb504f3)
CONST8(nrm_l0, $0x3d9021bb)
CONST8(nrm_l1, $0xbdebd1b8)
CONST8(nrm_l2, $0x3def251a)
CONST8(nrm_l3, $0xbdfe5d4f)
CONST8(nrm_l4, $0x3e11e9bf)
CONST8(nrm_l5, $0xbe2aae50)
CONST8(nrm_l6, $0x3e4cceac)
CONST8(nrm_l7, $0xbe7ffffc)
CONST8(nrm_l8, $0x3eaaaaaa)
CONST8(nrm_a0, $0x32f16588)
CONST8(nrm_a1, $0x34b84b36)
CONST8(nrm_a2, $0xb66c7357)
CONST8(nrm_a3, $0xb6935ac1)
CONST8(nrm_a4, $0x396532db)
CONST8(nrm_a5, $0xbaa45408)
CONST8(nrm_a6, $0xbb88e4ef)
CONST8(nrm_a7, $0x3e7c8f63)
CONST8(nrm_a8, $0x3fc02e2f)
CONST8(nrm_b0, $0xb951f09b)
CONST8(nrm_b1, $0x38d3b56b)
CONST8(nrm_b2, $0x3ab0dc72)
CONST8(nrm_b3, $0xbb70bde7)
CONST8(nrm_b4, $0x3bbc127b)
CONST8(nrm_b5, $0xbbf9c5d7)
CONST8(nrm_b6, $0x3c1aa57e)
CONST8(nrm_b7, $0x3f8036db)
CONST8(nrm_b8, $0x40354f7e)

#define HORNER(v, p, c) VMULPS v, p, p; VADDPS c<>(SB), p, p

// HALF computes 8 lanes with state registers A, B, C, D and stores their
// draws at off(DI).
#define HALF(A, B, C, D, off) \
	VPSLLD $2, B, Y8; VPADDD B, Y8, Y8; \
	VPSLLD $7, Y8, Y9; VPSRLD $25, Y8, Y8; VPOR Y8, Y9, Y8; \
	VPSLLD $3, Y8, Y9; VPADDD Y8, Y9, Y8; \
	VPSLLD $9, B, Y9; \
	VPXOR A, C, C; VPXOR B, D, D; VPXOR C, B, B; VPXOR D, A, A; VPXOR Y9, C, C; \
	VPSLLD $11, D, Y9; VPSRLD $21, D, D; VPOR Y9, D, D; \
	VPAND nrm_abs<>(SB), Y8, Y9; VCVTDQ2PS Y9, Y9; \
	VMULPS nrm_2m31<>(SB), Y9, Y9; VADDPS nrm_2m32<>(SB), Y9, Y9; \
	VMOVUPS nrm_one<>(SB), Y10; VSUBPS Y9, Y10, Y10; \
	VMOVUPS nrm_two<>(SB), Y11; VSUBPS Y9, Y11, Y11; VMULPS Y11, Y9, Y11; \
	VPSRLD $23, Y11, Y12; VPSUBD nrm_i126<>(SB), Y12, Y12; \
	VPAND nrm_mant<>(SB), Y11, Y13; VPOR nrm_halfexp<>(SB), Y13, Y13; \
	VCMPPS $1, nrm_sqrthalf<>(SB), Y13, Y14; VPADDD Y14, Y12, Y12; \
	VADDPS Y13, Y13, Y15; VBLENDVPS Y14, Y15, Y13, Y13; VSUBPS nrm_one<>(SB), Y13, Y13; \
	VMULPS Y13, Y13, Y14; \
	VMOVUPS nrm_l0<>(SB), Y15; \
	HORNER(Y13, Y15, nrm_l1); HORNER(Y13, Y15, nrm_l2); HORNER(Y13, Y15, nrm_l3); HORNER(Y13, Y15, nrm_l4); \
	HORNER(Y13, Y15, nrm_l5); HORNER(Y13, Y15, nrm_l6); HORNER(Y13, Y15, nrm_l7); HORNER(Y13, Y15, nrm_l8); \
	VMULPS Y13, Y15, Y15; VMULPS Y14, Y15, Y15; \
	VCVTDQ2PS Y12, Y12; \
	VMULPS nrm_lq1<>(SB), Y12, Y11; VADDPS Y11, Y15, Y15; \
	VMULPS nrm_mhalf<>(SB), Y14, Y11; VADDPS Y11, Y15, Y15; \
	VADDPS Y15, Y13, Y13; \
	VMULPS nrm_lq2<>(SB), Y12, Y11; VADDPS Y11, Y13, Y13; \
	VXORPS nrm_sign<>(SB), Y13, Y13; \
	VSUBPS nrm_c25<>(SB), Y13, Y14; \
	VMOVUPS nrm_a0<>(SB), Y15; \
	HORNER(Y14, Y15, nrm_a1); HORNER(Y14, Y15, nrm_a2); HORNER(Y14, Y15, nrm_a3); HORNER(Y14, Y15, nrm_a4); \
	HORNER(Y14, Y15, nrm_a5); HORNER(Y14, Y15, nrm_a6); HORNER(Y14, Y15, nrm_a7); HORNER(Y14, Y15, nrm_a8); \
	VSQRTPS Y13, Y12; VSUBPS nrm_c3<>(SB), Y12, Y12; \
	VMOVUPS nrm_b0<>(SB), Y11; \
	HORNER(Y12, Y11, nrm_b1); HORNER(Y12, Y11, nrm_b2); HORNER(Y12, Y11, nrm_b3); HORNER(Y12, Y11, nrm_b4); \
	HORNER(Y12, Y11, nrm_b5); HORNER(Y12, Y11, nrm_b6); HORNER(Y12, Y11, nrm_b7); HORNER(Y12, Y11, nrm_b8); \
	VCMPPS $1, nrm_c5<>(SB), Y13, Y14; VBLENDVPS Y14, Y15, Y11, Y15; \
	VMULPS Y10, Y15, Y15; VMULPS nrm_sqrt2<>(SB), Y15, Y15; \
	VPAND nrm_sign<>(SB), Y8, Y9; VPOR Y9, Y15, Y15; \
	VMOVUPS Y15, off(DI)

// func normalsAVX2(state *[64]uint32, dst *float32, steps int)
TEXT ·normalsAVX2(SB), NOSPLIT, $0-24
	MOVQ state+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ steps+16(FP), CX
	VMOVDQU 0(SI), Y0
	VMOVDQU 64(SI), Y1
	VMOVDQU 128(SI), Y2
	VMOVDQU 192(SI), Y3
	VMOVDQU 32(SI), Y4
	VMOVDQU 96(SI), Y5
	VMOVDQU 160(SI), Y6
	VMOVDQU 224(SI), Y7

loop:
	HALF(Y0, Y1, Y2, Y3, 0)
	HALF(Y4, Y5, Y6, Y7, 32)
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

	VMOVDQU Y0, 0(SI)
	VMOVDQU Y1, 64(SI)
	VMOVDQU Y2, 128(SI)
	VMOVDQU Y3, 192(SI)
	VMOVDQU Y4, 32(SI)
	VMOVDQU Y5, 96(SI)
	VMOVDQU Y6, 160(SI)
	VMOVDQU Y7, 224(SI)
	VZEROUPPER
	RET
