#include "textflag.h"

// Integer kernels: int16 codes in, exact int32 sums out. The packed b holds,
// per row pair, the two codes of each column in one 32-bit word; a pair of
// input codes is broadcast as one 32-bit word, and VPDPWSSD (AVX-512 VNNI)
// or VPMADDWD + VPADDD (AVX2) adds both products to each column's sum.

// One row of a 64-wide panel: four VPDPWSSDs on the broadcast pair.
#define VNNI_ROW64(src, bc, acc0, acc1, acc2, acc3) \
	VPBROADCASTD src, bc \
	VPDPWSSD     Z16, bc, acc0 \
	VPDPWSSD     Z17, bc, acc1 \
	VPDPWSSD     Z18, bc, acc2 \
	VPDPWSSD     Z19, bc, acc3

// func dpwssd4x64(kp int, a *int16, lda int, b *int16, c *int32, ldc int, acc bool)
//
// c[0:4, 0:64] (=|+=) a[0:4, 0:2kp] b[0:2kp, 0:64]; b is a 64-wide panel.
TEXT ·dpwssd4x64(SB), NOSPLIT, $0-49
	MOVQ    kp+0(FP), CX
	MOVQ    a+8(FP), SI
	MOVQ    lda+16(FP), R8
	MOVQ    b+24(FP), DI
	MOVQ    c+32(FP), DX
	MOVQ    ldc+40(FP), R10
	MOVBLZX acc+48(FP), R11
	SHLQ    $1, R8
	SHLQ    $2, R10
	LEAQ    (SI)(R8*2), R12
	LEAQ    (DX)(R10*2), R13
	TESTQ   R11, R11
	JZ      zero64
	VMOVDQU32 (DX), Z0
	VMOVDQU32 64(DX), Z1
	VMOVDQU32 128(DX), Z2
	VMOVDQU32 192(DX), Z3
	VMOVDQU32 (DX)(R10*1), Z4
	VMOVDQU32 64(DX)(R10*1), Z5
	VMOVDQU32 128(DX)(R10*1), Z6
	VMOVDQU32 192(DX)(R10*1), Z7
	VMOVDQU32 (R13), Z8
	VMOVDQU32 64(R13), Z9
	VMOVDQU32 128(R13), Z10
	VMOVDQU32 192(R13), Z11
	VMOVDQU32 (R13)(R10*1), Z12
	VMOVDQU32 64(R13)(R10*1), Z13
	VMOVDQU32 128(R13)(R10*1), Z14
	VMOVDQU32 192(R13)(R10*1), Z15
	JMP       loop64

zero64:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

loop64:
	VMOVDQU32 (DI), Z16
	VMOVDQU32 64(DI), Z17
	VMOVDQU32 128(DI), Z18
	VMOVDQU32 192(DI), Z19
	VNNI_ROW64((SI), Z20, Z0, Z1, Z2, Z3)
	VNNI_ROW64((SI)(R8*1), Z21, Z4, Z5, Z6, Z7)
	VNNI_ROW64((R12), Z22, Z8, Z9, Z10, Z11)
	VNNI_ROW64((R12)(R8*1), Z23, Z12, Z13, Z14, Z15)
	ADDQ $4, SI
	ADDQ $4, R12
	ADDQ $256, DI
	DECQ CX
	JNZ  loop64

	VMOVDQU32 Z0, (DX)
	VMOVDQU32 Z1, 64(DX)
	VMOVDQU32 Z2, 128(DX)
	VMOVDQU32 Z3, 192(DX)
	VMOVDQU32 Z4, (DX)(R10*1)
	VMOVDQU32 Z5, 64(DX)(R10*1)
	VMOVDQU32 Z6, 128(DX)(R10*1)
	VMOVDQU32 Z7, 192(DX)(R10*1)
	VMOVDQU32 Z8, (R13)
	VMOVDQU32 Z9, 64(R13)
	VMOVDQU32 Z10, 128(R13)
	VMOVDQU32 Z11, 192(R13)
	VMOVDQU32 Z12, (R13)(R10*1)
	VMOVDQU32 Z13, 64(R13)(R10*1)
	VMOVDQU32 Z14, 128(R13)(R10*1)
	VMOVDQU32 Z15, 192(R13)(R10*1)
	VZEROUPPER
	RET

// func dpwssd4x16(kp int, a *int16, lda int, b *int16, c *int32, ldc int, acc bool)
//
// c[0:4, 0:16] (=|+=) a[0:4, 0:2kp] b[0:2kp, 0:16]; b is a 16-wide panel.
TEXT ·dpwssd4x16(SB), NOSPLIT, $0-49
	MOVQ    kp+0(FP), CX
	MOVQ    a+8(FP), SI
	MOVQ    lda+16(FP), R8
	MOVQ    b+24(FP), DI
	MOVQ    c+32(FP), DX
	MOVQ    ldc+40(FP), R10
	MOVBLZX acc+48(FP), R11
	SHLQ    $1, R8
	SHLQ    $2, R10
	LEAQ    (SI)(R8*2), R12
	LEAQ    (DX)(R10*2), R13
	TESTQ   R11, R11
	JZ      zero16
	VMOVDQU32 (DX), Z0
	VMOVDQU32 (DX)(R10*1), Z1
	VMOVDQU32 (R13), Z2
	VMOVDQU32 (R13)(R10*1), Z3
	JMP       loop16

zero16:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

loop16:
	VMOVDQU32    (DI), Z16
	VPBROADCASTD (SI), Z20
	VPBROADCASTD (SI)(R8*1), Z21
	VPBROADCASTD (R12), Z22
	VPBROADCASTD (R12)(R8*1), Z23
	VPDPWSSD     Z16, Z20, Z0
	VPDPWSSD     Z16, Z21, Z1
	VPDPWSSD     Z16, Z22, Z2
	VPDPWSSD     Z16, Z23, Z3
	ADDQ         $4, SI
	ADDQ         $4, R12
	ADDQ         $64, DI
	DECQ         CX
	JNZ          loop16

	VMOVDQU32 Z0, (DX)
	VMOVDQU32 Z1, (DX)(R10*1)
	VMOVDQU32 Z2, (R13)
	VMOVDQU32 Z3, (R13)(R10*1)
	VZEROUPPER
	RET

// One row of a 16-column block with AVX2: VPMADDWD multiplies the pairs and
// adds each pair's two products into a 32-bit lane.
#define AVX2_ROW16(src, acc0, acc1) \
	VPBROADCASTD src, Y10 \
	VPMADDWD     Y8, Y10, Y11 \
	VPMADDWD     Y9, Y10, Y12 \
	VPADDD       Y11, acc0, acc0 \
	VPADDD       Y12, acc1, acc1

// func pmaddwd4x16(kp int, a *int16, lda int, b *int16, ldb int, c *int32, ldc int)
TEXT ·pmaddwd4x16(SB), NOSPLIT, $0-56
	MOVQ kp+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	SHLQ $1, R8
	SHLQ $1, R9
	SHLQ $2, R10
	LEAQ (SI)(R8*2), R12
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

loopy:
	VMOVDQU (DI), Y8
	VMOVDQU 32(DI), Y9
	AVX2_ROW16((SI), Y0, Y1)
	AVX2_ROW16((SI)(R8*1), Y2, Y3)
	AVX2_ROW16((R12), Y4, Y5)
	AVX2_ROW16((R12)(R8*1), Y6, Y7)
	ADDQ    $4, SI
	ADDQ    $4, R12
	ADDQ    R9, DI
	DECQ    CX
	JNZ     loopy

	LEAQ    (DX)(R10*2), R13
	VMOVDQU Y0, (DX)
	VMOVDQU Y1, 32(DX)
	VMOVDQU Y2, (DX)(R10*1)
	VMOVDQU Y3, 32(DX)(R10*1)
	VMOVDQU Y4, (R13)
	VMOVDQU Y5, 32(R13)
	VMOVDQU Y6, (R13)(R10*1)
	VMOVDQU Y7, 32(R13)(R10*1)
	VZEROUPPER
	RET

// Sixteen sums in Z0 to float32 in Z2: float64 products by ru (Z30) and by
// the column units colLo and colHi (eight each), rounded once to float32.
#define SCALE16(colLo, colHi) \
	VEXTRACTI32X8 $1, Z0, Y1 \
	VCVTDQ2PD     Y0, Z2 \
	VCVTDQ2PD     Y1, Z3 \
	VMULPD        Z30, Z2, Z2 \
	VMULPD        Z30, Z3, Z3 \
	VMULPD        colLo, Z2, Z2 \
	VMULPD        colHi, Z3, Z3 \
	VCVTPD2PS     Z2, Y2 \
	VCVTPD2PS     Z3, Y3 \
	VINSERTF32X8  $1, Y3, Z2, Z2

// func scaleTileAVX512(dst *float32, ldd int, t *int32, rows, n int, ru *float64, cu *float64, perColumn bool)
//
// For r < rows and j < n: dst[r*ldd + j] = float32(float64(t[r*64 + j]) *
// ru[r] * cu[j or 0]), sixteen at a time in float64, the last ones of each
// row masked. The tile is read 64 bytes at a time, as the kernels stored it,
// so that the loads take the stored data directly.
TEXT ·scaleTileAVX512(SB), NOSPLIT, $0-57
	MOVQ         dst+0(FP), DI
	MOVQ         ldd+8(FP), R8
	MOVQ         t+16(FP), SI
	MOVQ         rows+24(FP), R9
	MOVQ         n+32(FP), R10
	MOVQ         ru+40(FP), R14
	MOVQ         cu+48(FP), BX
	MOVBLZX      perColumn+56(FP), R11
	SHLQ         $2, R8
	VBROADCASTSD (BX), Z31
	MOVQ         R10, CX
	ANDQ         $15, CX
	MOVL         $1, AX
	SHLL         CX, AX
	DECL         AX
	KMOVW        AX, K1
	KSHIFTRW     $8, K1, K3

tilerow:
	VBROADCASTSD (R14), Z30
	MOVQ         SI, R12
	MOVQ         DI, R13
	MOVQ         BX, DX
	MOVQ         R10, CX

tilecol:
	CMPQ      CX, $16
	JLT       tiletail
	VMOVDQU32 (R12), Z0
	TESTQ     R11, R11
	JZ        tileshared
	SCALE16((DX), 64(DX))
	JMP       tilestore

tileshared:
	SCALE16(Z31, Z31)

tilestore:
	VMOVUPS Z2, (R13)
	ADDQ    $64, R12
	ADDQ    $64, R13
	ADDQ    $128, DX
	SUBQ    $16, CX
	JMP     tilecol

tiletail:
	TESTQ       CX, CX
	JZ          tilenext
	VMOVDQU32.Z (R12), K1, Z0
	TESTQ       R11, R11
	JZ          tailshared
	VMOVUPD.Z   (DX), K1, Z4
	VMOVUPD.Z   64(DX), K3, Z5
	SCALE16(Z4, Z5)
	JMP         tailstore

tailshared:
	SCALE16(Z31, Z31)

tailstore:
	VMOVUPS Z2, K1, (R13)

tilenext:
	ADDQ $256, SI
	ADDQ R8, DI
	ADDQ $8, R14
	DECQ R9
	JNZ  tilerow
	VZEROUPPER
	RET

// func scaleRowAVX2(dst *float32, c *int32, n int, ru float64, cu *float64, perColumn bool)
//
// As scaleTileAVX512 for one row, eight at a time (c read 32 bytes at a
// time, as the AVX2 kernel stored it); the last up to seven by the scalar
// instructions, which round the same way.
TEXT ·scaleRowAVX2(SB), NOSPLIT, $0-41
	MOVQ         dst+0(FP), DI
	MOVQ         c+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSD ru+24(FP), Y14
	MOVQ         cu+32(FP), BX
	MOVBLZX      perColumn+40(FP), R11
	VBROADCASTSD (BX), Y15
	VMOVDQU      Y15, Y13
	MOVQ         $0, R12
	MOVQ         $0, R13
	TESTQ        R11, R11
	JZ           loopy8
	MOVQ         $64, R12    // advance cu by 8 float64 per step
	MOVQ         $8, R13     // and by 1 per scalar step

loopy8:
	CMPQ         CX, $8
	JLT          taily
	VMOVDQU      (SI), Y0
	VEXTRACTI128 $1, Y0, X1
	VCVTDQ2PD    X0, Y2
	VCVTDQ2PD    X1, Y3
	VMULPD       Y14, Y2, Y2
	VMULPD       Y14, Y3, Y3
	TESTQ        R11, R11
	JZ           oney
	VMOVUPD      (BX), Y15
	VMOVUPD      32(BX), Y13

oney:
	VMULPD       Y15, Y2, Y2
	VMULPD       Y13, Y3, Y3
	VCVTPD2PSY   Y2, X2
	VCVTPD2PSY   Y3, X3
	VINSERTF128  $1, X3, Y2, Y2
	VMOVUPS      Y2, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         R12, BX
	SUBQ         $8, CX
	JMP          loopy8

taily:
	TESTQ CX, CX
	JZ    doney

loop1y:
	VCVTSI2SDL (SI), X0, X0
	VMULSD     X14, X0, X0
	VMULSD     (BX), X0, X0
	VCVTSD2SS  X0, X0, X0
	VMOVSS     X0, (DI)
	ADDQ       $4, SI
	ADDQ       $4, DI
	ADDQ       R13, BX
	DECQ       CX
	JNZ        loop1y

doney:
	VZEROUPPER
	RET

// func roundInt16AVX512(dst *int16, x *float32, n int, k float32)
//
// dst[i] = int16(round half to even (float32(x[i] k))); VCVTPS2DQ rounds in
// the default nearest-even mode.
TEXT ·roundInt16AVX512(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS k+24(FP), Z31
	CMPQ         CX, $16
	JLT          tailr

loopr:
	VMULPS    (SI), Z31, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVSDW  Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	CMPQ      CX, $16
	JGE       loopr

tailr:
	TESTQ CX, CX
	JZ    doner
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMULPS.Z  (SI), Z31, K1, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVSDW  Z0, K1, (DI)

doner:
	VZEROUPPER
	RET

// func roundInt16AVX2(dst *int16, x *float32, n int, k float32)
TEXT ·roundInt16AVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS k+24(FP), Y15
	CMPQ         CX, $8
	JLT          tailry

loopry:
	VMULPS       (SI), Y15, Y0
	VCVTPS2DQ    Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ         $32, SI
	ADDQ         $16, DI
	SUBQ         $8, CX
	CMPQ         CX, $8
	JGE          loopry

tailry:
	TESTQ CX, CX
	JZ    donery

loop1ry:
	VMOVSS    (SI), X0
	VMULSS    X15, X0, X0
	VCVTSS2SI X0, AX
	MOVW      AX, (DI)
	ADDQ      $4, SI
	ADDQ      $2, DI
	DECQ      CX
	JNZ       loop1ry

donery:
	VZEROUPPER
	RET

// Sixteen pairs: the magnitudes in Z0 (even row) and Z1 (odd row) negated
// where the sign masks Z2 and Z3 are all ones, then the even code in the
// low and the odd code in the high half of each 32-bit word.
#define SIGNED_PAIRS16 \
	VPXORD Z2, Z0, Z0 \
	VPSUBD Z2, Z0, Z0 \
	VPXORD Z3, Z1, Z1 \
	VPSUBD Z3, Z1, Z1 \
	VPANDD Z31, Z0, Z0 \
	VPSLLD $16, Z1, Z1 \
	VPORD  Z1, Z0, Z0

// func signedPairsAVX512(out *int16, even, odd *int32, signEven, signOdd *float32, n int)
TEXT ·signedPairsAVX512(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         even+8(FP), SI
	MOVQ         odd+16(FP), DX
	MOVQ         signEven+24(FP), R8
	MOVQ         signOdd+32(FP), R9
	MOVQ         n+40(FP), CX
	MOVL         $0xffff, AX
	VPBROADCASTD AX, Z31

pairs16:
	CMPQ      CX, $16
	JLT       pairstail
	VMOVDQU32 (SI), Z0
	VMOVDQU32 (DX), Z1
	VPSRAD    $31, (R8), Z2
	VPSRAD    $31, (R9), Z3
	SIGNED_PAIRS16
	VMOVDQU32 Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, R8
	ADDQ      $64, R9
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       pairs16

pairstail:
	TESTQ       CX, CX
	JZ          pairsdone
	MOVL        $1, AX
	SHLL        CX, AX
	DECL        AX
	KMOVW       AX, K1
	VMOVDQU32.Z (SI), K1, Z0
	VMOVDQU32.Z (DX), K1, Z1
	VMOVDQU32.Z (R8), K1, Z2
	VMOVDQU32.Z (R9), K1, Z3
	VPSRAD      $31, Z2, Z2
	VPSRAD      $31, Z3, Z3
	SIGNED_PAIRS16
	VMOVDQU32   Z0, K1, (DI)

pairsdone:
	VZEROUPPER
	RET
