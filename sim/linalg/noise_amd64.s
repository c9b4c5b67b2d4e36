#include "textflag.h"

// func addNoiseKernel(y, v, eps *float32, n int, s float32)
TEXT ·addNoiseKernel(SB), NOSPLIT, $0-36
	MOVQ y+0(FP), DI
	MOVQ v+8(FP), SI
	MOVQ eps+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y3
	SHRQ $3, CX

loop:
	VSQRTPS (SI), Y0
	VMULPS  Y3, Y0, Y0
	VMULPS  (DX), Y0, Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET
