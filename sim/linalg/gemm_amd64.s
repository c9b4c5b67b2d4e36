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

// AVX2 + FMA kernels: the same canonical order, 16-column panels, tail
// columns masked with VMASKMOVPS (masked-out lanes are neither read nor
// written).
#define ROW16(aptr, accLo, accHi) \
	VBROADCASTSS (aptr), Y10 \
	VFMADD231PS Y8, Y10, accLo \
	VFMADD231PS Y9, Y10, accHi \
	ADDQ $4, aptr

// func kern4x16fma(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate bool, full bool, mask *int32)
//
// c[0:4, 0:16] (=|+=) a[0:4, 0:k] b[0:k, 0:16], columns where mask[j] < 0;
// full (all 16 columns) reads b with plain loads, which are faster.
TEXT ·kern4x16fma(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	MOVBLZX accumulate+56(FP), R11
	MOVQ mask+64(FP), AX
	VMOVDQU (AX), Y12
	VMOVDQU 32(AX), Y13
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (SI)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	LEAQ (R13)(R8*1), R14
	LEAQ (DX)(R10*1), BX
	LEAQ (BX)(R10*1), R15
	LEAQ (R15)(R10*1), AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ R11, R11
	JZ    loop4f
	VMASKMOVPS (DX), Y12, Y0
	VMASKMOVPS 32(DX), Y13, Y1
	VMASKMOVPS (BX), Y12, Y2
	VMASKMOVPS 32(BX), Y13, Y3
	VMASKMOVPS (R15), Y12, Y4
	VMASKMOVPS 32(R15), Y13, Y5
	VMASKMOVPS (AX), Y12, Y6
	VMASKMOVPS 32(AX), Y13, Y7

loop4f:
	MOVBLZX full+57(FP), R11
	TESTQ R11, R11
	JNZ   loop4full

loop4m:
	VMASKMOVPS (DI), Y12, Y8
	VMASKMOVPS 32(DI), Y13, Y9
	ROW16(SI, Y0, Y1)
	ROW16(R12, Y2, Y3)
	ROW16(R13, Y4, Y5)
	ROW16(R14, Y6, Y7)
	ADDQ R9, DI
	DECQ CX
	JNZ  loop4m
	JMP  store4f

loop4full:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	ROW16(SI, Y0, Y1)
	ROW16(R12, Y2, Y3)
	ROW16(R13, Y4, Y5)
	ROW16(R14, Y6, Y7)
	ADDQ R9, DI
	DECQ CX
	JNZ  loop4full

store4f:
	VMASKMOVPS Y0, Y12, (DX)
	VMASKMOVPS Y1, Y13, 32(DX)
	VMASKMOVPS Y2, Y12, (BX)
	VMASKMOVPS Y3, Y13, 32(BX)
	VMASKMOVPS Y4, Y12, (R15)
	VMASKMOVPS Y5, Y13, 32(R15)
	VMASKMOVPS Y6, Y12, (AX)
	VMASKMOVPS Y7, Y13, 32(AX)
	VZEROUPPER
	RET

// func kern1x16fma(k int, a *float32, b *float32, ldb int, c *float32, accumulate bool, full bool, mask *int32)
TEXT ·kern1x16fma(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R9
	MOVQ c+32(FP), DX
	MOVBLZX accumulate+40(FP), R11
	MOVQ mask+48(FP), AX
	VMOVDQU (AX), Y12
	VMOVDQU 32(AX), Y13
	SHLQ $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ R11, R11
	JZ    loop1f
	VMASKMOVPS (DX), Y12, Y0
	VMASKMOVPS 32(DX), Y13, Y1

loop1f:
	MOVBLZX full+41(FP), R11
	TESTQ R11, R11
	JNZ   loop1full

loop1m:
	VMASKMOVPS (DI), Y12, Y8
	VMASKMOVPS 32(DI), Y13, Y9
	ROW16(SI, Y0, Y1)
	ADDQ R9, DI
	DECQ CX
	JNZ  loop1m
	JMP  store1f

loop1full:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	ROW16(SI, Y0, Y1)
	ADDQ R9, DI
	DECQ CX
	JNZ  loop1full

store1f:
	VMASKMOVPS Y0, Y12, (DX)
	VMASKMOVPS Y1, Y13, 32(DX)
	VZEROUPPER
	RET

// ROW6(aptr, bcast, accLo, accHi): one row of kern6x16fma's step.
#define ROW6(aptr, bcast, accLo, accHi) \
	VBROADCASTSS aptr, bcast \
	VFMADD231PS Y12, bcast, accLo \
	VFMADD231PS Y13, bcast, accHi

// func kern6x16fma(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accumulate bool)
//
// c[0:6, 0:16] (=|+=) a[0:6, 0:k] b[0:k, 0:16], all 16 columns: twelve
// accumulators (Y0..Y11), the b row in Y12 and Y13, broadcasts alternating in
// Y14 and Y15. Rows 0..2 of a are addressed from SI, rows 3..5 from R12.
TEXT ·kern6x16fma(SB), NOSPLIT, $0-57
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	MOVBLZX accumulate+56(FP), R11
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (SI)(R8*2), R12
	ADDQ R8, R12
	LEAQ (DX)(R10*2), BX
	ADDQ R10, BX
	TESTQ R11, R11
	JNZ   load6
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	JMP   loop6

load6:
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS (DX)(R10*1), Y2
	VMOVUPS 32(DX)(R10*1), Y3
	VMOVUPS (DX)(R10*2), Y4
	VMOVUPS 32(DX)(R10*2), Y5
	VMOVUPS (BX), Y6
	VMOVUPS 32(BX), Y7
	VMOVUPS (BX)(R10*1), Y8
	VMOVUPS 32(BX)(R10*1), Y9
	VMOVUPS (BX)(R10*2), Y10
	VMOVUPS 32(BX)(R10*2), Y11

loop6:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	ROW6((SI), Y14, Y0, Y1)
	ROW6((SI)(R8*1), Y15, Y2, Y3)
	ROW6((SI)(R8*2), Y14, Y4, Y5)
	ROW6((R12), Y15, Y6, Y7)
	ROW6((R12)(R8*1), Y14, Y8, Y9)
	ROW6((R12)(R8*2), Y15, Y10, Y11)
	ADDQ $4, SI
	ADDQ $4, R12
	ADDQ R9, DI
	DECQ CX
	JNZ  loop6

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (DX)(R10*1)
	VMOVUPS Y3, 32(DX)(R10*1)
	VMOVUPS Y4, (DX)(R10*2)
	VMOVUPS Y5, 32(DX)(R10*2)
	VMOVUPS Y6, (BX)
	VMOVUPS Y7, 32(BX)
	VMOVUPS Y8, (BX)(R10*1)
	VMOVUPS Y9, 32(BX)(R10*1)
	VMOVUPS Y10, (BX)(R10*2)
	VMOVUPS Y11, 32(BX)(R10*2)
	VZEROUPPER
	RET
