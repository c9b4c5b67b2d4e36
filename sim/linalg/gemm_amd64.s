#include "textflag.h"

// func cpuidex(op, op2 uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuidex(SB), NOSPLIT, $0-24
	MOVL op+0(FP), AX
	MOVL op2+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv0() (eax, edx uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// One row of the canonical-order product for 32 columns:
// acc = fma(a, b, acc), one rounding per step.
#define ROW(aptr, accLo, accHi) \
	VBROADCASTSS (aptr), Z10 \
	VFMADD231PS Z8, Z10, accLo \
	VFMADD231PS Z9, Z10, accHi \
	ADDQ $4, aptr

// func kern4x32(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate bool, mask uint32)
//
// c[0:4, 0:32] (=|+=) a[0:4, 0:k] b[0:k, 0:32], columns limited by mask.
TEXT ·kern4x32(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	MOVBLZX accumulate+56(FP), R11
	MOVL mask+60(FP), AX
	KMOVW AX, K1
	SHRL $16, AX
	KMOVW AX, K2
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (SI)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R13)(R8*1), R14
	LEAQ (DX)(R10*1), BX
	LEAQ (BX)(R10*1), R15
	LEAQ (R15)(R10*1), AX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	TESTQ R11, R11
	JZ    loop4
	VMOVUPS.Z (DX), K1, Z0
	VMOVUPS.Z 64(DX), K2, Z1
	VMOVUPS.Z (BX), K1, Z2
	VMOVUPS.Z 64(BX), K2, Z3
	VMOVUPS.Z (R15), K1, Z4
	VMOVUPS.Z 64(R15), K2, Z5
	VMOVUPS.Z (AX), K1, Z6
	VMOVUPS.Z 64(AX), K2, Z7

loop4:
	VMOVUPS.Z (DI), K1, Z8
	VMOVUPS.Z 64(DI), K2, Z9
	ROW(SI, Z0, Z1)
	ROW(R12, Z2, Z3)
	ROW(R13, Z4, Z5)
	ROW(R14, Z6, Z7)
	ADDQ R9, DI
	DECQ CX
	JNZ  loop4

	VMOVUPS Z0, K1, (DX)
	VMOVUPS Z1, K2, 64(DX)
	VMOVUPS Z2, K1, (BX)
	VMOVUPS Z3, K2, 64(BX)
	VMOVUPS Z4, K1, (R15)
	VMOVUPS Z5, K2, 64(R15)
	VMOVUPS Z6, K1, (AX)
	VMOVUPS Z7, K2, 64(AX)
	VZEROUPPER
	RET

// func kern1x32(k int, a *float32, b *float32, ldb int, c *float32, accumulate bool, mask uint32)
TEXT ·kern1x32(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R9
	MOVQ c+32(FP), DX
	MOVBLZX accumulate+40(FP), R11
	MOVL mask+44(FP), AX
	KMOVW AX, K1
	SHRL $16, AX
	KMOVW AX, K2
	SHLQ $2, R9
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	TESTQ R11, R11
	JZ    loop1
	VMOVUPS.Z (DX), K1, Z0
	VMOVUPS.Z 64(DX), K2, Z1

loop1:
	VMOVUPS.Z (DI), K1, Z8
	VMOVUPS.Z 64(DI), K2, Z9
	ROW(SI, Z0, Z1)
	ADDQ R9, DI
	DECQ CX
	JNZ  loop1

	VMOVUPS Z0, K1, (DX)
	VMOVUPS Z1, K2, 64(DX)
	VZEROUPPER
	RET
