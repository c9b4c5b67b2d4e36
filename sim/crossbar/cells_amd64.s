#include "textflag.h"

// cellParams offsets (cells.go).
#define P_SLICES 0
#define P_BITS 8
#define P_MASK 16
#define P_LM1 20
#define P_GS 24
#define P_LO 28
#define P_G0 32
#define P_G0SQ 36
#define P_UNIT 40
#define P_UNIT2 44
#define P_W 48
#define P_WSQ 112

DATA cells_sign<>+0(SB)/4, $0x80000000
GLOBL cells_sign<>(SB), RODATA|NOPTR, $4

// func writeCellsKernel(eff, q *float32, codes *int32, x, eps *float32, m, n int, p *cellParams)
TEXT ·writeCellsKernel(SB), NOSPLIT, $0-64
	MOVQ eff+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ codes+16(FP), R8
	MOVQ x+24(FP), R9
	MOVQ eps+32(FP), R10
	MOVQ m+40(FP), CX
	MOVQ n+48(FP), R11
	SHLQ $2, R11              // a slice's draws are n floats apart
	MOVQ p+56(FP), DX
	VPBROADCASTD P_MASK(DX), Y15
	VBROADCASTSS P_LM1(DX), Y14
	VBROADCASTSS P_GS(DX), Y13
	VBROADCASTSS P_LO(DX), Y12
	VBROADCASTSS P_G0(DX), Y11
	VBROADCASTSS P_G0SQ(DX), Y10
	SHRQ $3, CX

block:
	VMOVDQU (R8), Y0          // codes
	VXORPS Y1, Y1, Y1         // v
	VXORPS Y2, Y2, Y2         // rv
	XORQ BX, BX               // slice
	XORQ AX, AX               // shift
	MOVQ R10, R12             // this slice's draws

slice:
	VMOVQ AX, X9
	VPSRLD X9, Y0, Y3
	VPAND Y15, Y3, Y3
	VCVTDQ2PS Y3, Y3          // d
	VMULPS Y14, Y3, Y4        // d (L-1)
	VSQRTPS Y4, Y4
	VMULPS Y13, Y4, Y4        // gs sd
	VMULPS (R12), Y4, Y4      // times eps
	VADDPS Y4, Y3, Y3         // d'
	VMAXPS Y12, Y3, Y3        // clamp (lo = -Inf when off)
	VBROADCASTSS P_W(DX)(BX*4), Y5
	VMULPS Y3, Y5, Y6
	VADDPS Y6, Y1, Y1         // v += w d'
	VADDPS Y3, Y11, Y6        // g0 + d'
	VMULPS Y6, Y6, Y6
	VADDPS Y10, Y6, Y6        // + g0^2
	VBROADCASTSS P_WSQ(DX)(BX*4), Y5
	VMULPS Y6, Y5, Y6
	VADDPS Y6, Y2, Y2         // rv += w^2 (...)
	ADDQ R11, R12
	ADDQ P_BITS(DX), AX
	INCQ BX
	CMPQ BX, P_SLICES(DX)
	JLT  slice

	VBROADCASTSS P_UNIT(DX), Y5
	VMULPS Y5, Y1, Y1
	VBROADCASTSS cells_sign<>(SB), Y5
	VANDPS (R9), Y5, Y5
	VXORPS Y5, Y1, Y1
	VMOVUPS Y1, (DI)
	VBROADCASTSS P_UNIT2(DX), Y5
	VMULPS Y5, Y2, Y2
	VMOVUPS Y2, (SI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ  block
	VZEROUPPER
	RET
