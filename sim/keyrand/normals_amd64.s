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
// draws at off(DI); the tail polynomial is skipped (to label skip) when no
// lane needs it, as for about 97 % of the vectors.
#define HALF(A, B, C, D, off, skip) \
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
	VCMPPS $0x1d, nrm_c5<>(SB), Y13, Y14; VMOVMSKPS Y14, AX; TESTL AX, AX; JZ skip; \
	VSQRTPS Y13, Y12; VSUBPS nrm_c3<>(SB), Y12, Y12; \
	VMOVUPS nrm_b0<>(SB), Y11; \
	HORNER(Y12, Y11, nrm_b1); HORNER(Y12, Y11, nrm_b2); HORNER(Y12, Y11, nrm_b3); HORNER(Y12, Y11, nrm_b4); \
	HORNER(Y12, Y11, nrm_b5); HORNER(Y12, Y11, nrm_b6); HORNER(Y12, Y11, nrm_b7); HORNER(Y12, Y11, nrm_b8); \
	VBLENDVPS Y14, Y11, Y15, Y15; \
skip: \
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
	HALF(Y0, Y1, Y2, Y3, 0, skip0)
	HALF(Y4, Y5, Y6, Y7, 32, skip1)
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

#define HORNERZ(v, p, c) VMULPS v, p, p; VADDPS.BCST c<>(SB), p, p

// func normalsAVX512(state *[64]uint32, dst *float32, steps int)
// All 16 lanes in Z0-Z3; the tail polynomial is skipped for the vectors
// (about 95 %) where no lane needs it.
TEXT ·normalsAVX512(SB), NOSPLIT, $0-24
	MOVQ state+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ steps+16(FP), CX
	VMOVDQU32 0(SI), Z0
	VMOVDQU32 64(SI), Z1
	VMOVDQU32 128(SI), Z2
	VMOVDQU32 192(SI), Z3
	VBROADCASTSS nrm_one<>(SB), Z20
	VBROADCASTSS nrm_two<>(SB), Z21
	VPTERNLOGD $0xff, Z30, Z30, Z30

zloop:
	VPSLLD $2, Z1, Z8
	VPADDD Z1, Z8, Z8
	VPROLD $7, Z8, Z8
	VPSLLD $3, Z8, Z9
	VPADDD Z8, Z9, Z8
	VPSLLD $9, Z1, Z9
	VPXORD Z0, Z2, Z2
	VPXORD Z1, Z3, Z3
	VPXORD Z2, Z1, Z1
	VPXORD Z3, Z0, Z0
	VPXORD Z9, Z2, Z2
	VPROLD $11, Z3, Z3

	VPANDD.BCST nrm_abs<>(SB), Z8, Z9
	VCVTDQ2PS Z9, Z9
	VMULPS.BCST nrm_2m31<>(SB), Z9, Z9
	VADDPS.BCST nrm_2m32<>(SB), Z9, Z9
	VSUBPS Z9, Z20, Z10
	VSUBPS Z9, Z21, Z11
	VMULPS Z11, Z9, Z11

	VPSRLD $23, Z11, Z12
	VPSUBD.BCST nrm_i126<>(SB), Z12, Z12
	VPANDD.BCST nrm_mant<>(SB), Z11, Z13
	VPORD.BCST nrm_halfexp<>(SB), Z13, Z13
	VCMPPS.BCST $1, nrm_sqrthalf<>(SB), Z13, K1
	VPADDD Z30, Z12, K1, Z12
	VADDPS Z13, Z13, K1, Z13
	VSUBPS Z20, Z13, Z13
	VMULPS Z13, Z13, Z14
	VBROADCASTSS nrm_l0<>(SB), Z15
	HORNERZ(Z13, Z15, nrm_l1)
	HORNERZ(Z13, Z15, nrm_l2)
	HORNERZ(Z13, Z15, nrm_l3)
	HORNERZ(Z13, Z15, nrm_l4)
	HORNERZ(Z13, Z15, nrm_l5)
	HORNERZ(Z13, Z15, nrm_l6)
	HORNERZ(Z13, Z15, nrm_l7)
	HORNERZ(Z13, Z15, nrm_l8)
	VMULPS Z13, Z15, Z15
	VMULPS Z14, Z15, Z15
	VCVTDQ2PS Z12, Z12
	VMULPS.BCST nrm_lq1<>(SB), Z12, Z11
	VADDPS Z11, Z15, Z15
	VMULPS.BCST nrm_mhalf<>(SB), Z14, Z11
	VADDPS Z11, Z15, Z15
	VADDPS Z15, Z13, Z13
	VMULPS.BCST nrm_lq2<>(SB), Z12, Z11
	VADDPS Z11, Z13, Z13
	VPXORD.BCST nrm_sign<>(SB), Z13, Z13

	VSUBPS.BCST nrm_c25<>(SB), Z13, Z14
	VBROADCASTSS nrm_a0<>(SB), Z15
	HORNERZ(Z14, Z15, nrm_a1)
	HORNERZ(Z14, Z15, nrm_a2)
	HORNERZ(Z14, Z15, nrm_a3)
	HORNERZ(Z14, Z15, nrm_a4)
	HORNERZ(Z14, Z15, nrm_a5)
	HORNERZ(Z14, Z15, nrm_a6)
	HORNERZ(Z14, Z15, nrm_a7)
	HORNERZ(Z14, Z15, nrm_a8)

	VCMPPS.BCST $0x1d, nrm_c5<>(SB), Z13, K2
	KORTESTW K2, K2
	JZ   central
	VSQRTPS Z13, Z12
	VSUBPS.BCST nrm_c3<>(SB), Z12, Z12
	VBROADCASTSS nrm_b0<>(SB), Z11
	HORNERZ(Z12, Z11, nrm_b1)
	HORNERZ(Z12, Z11, nrm_b2)
	HORNERZ(Z12, Z11, nrm_b3)
	HORNERZ(Z12, Z11, nrm_b4)
	HORNERZ(Z12, Z11, nrm_b5)
	HORNERZ(Z12, Z11, nrm_b6)
	HORNERZ(Z12, Z11, nrm_b7)
	HORNERZ(Z12, Z11, nrm_b8)
	VBLENDMPS Z11, Z15, K2, Z15

central:
	VMULPS Z10, Z15, Z15
	VMULPS.BCST nrm_sqrt2<>(SB), Z15, Z15
	VPANDD.BCST nrm_sign<>(SB), Z8, Z9
	VPORD Z9, Z15, Z15
	VMOVUPS Z15, (DI)
	ADDQ $64, DI
	DECQ CX
	JNZ  zloop

	VMOVDQU32 Z0, 0(SI)
	VMOVDQU32 Z1, 64(SI)
	VMOVDQU32 Z2, 128(SI)
	VMOVDQU32 Z3, 192(SI)
	VZEROUPPER
	RET
