#include "textflag.h"

#define BCAST(bits, z) MOVL $bits, AX; VPBROADCASTD AX, z

// func expShiftedAVX512(x *float32, n int, mx, scale float32)
//
// x[j] = Exp32((x[j] - mx) * scale), the same rounded float32 steps as Exp32.
TEXT ·expShiftedAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS mx+16(FP), Z20
	VBROADCASTSS scale+20(FP), Z21
	BCAST(0x3fb8aa3b, Z22) // log2e
	BCAST(0x3f000000, Z23) // 0.5
	BCAST(0x3f318000, Z24) // ln2hi
	BCAST(0xb95e8083, Z25) // ln2lo
	BCAST(0x3f800000, Z26) // 1
	BCAST(0x42b17213, Z27) // hi
	BCAST(0xc2aeac4f, Z28) // lo
	BCAST(0x7f800000, Z29) // +Inf
	MOVL $127, AX
	VPBROADCASTD AX, Z30
	BCAST(0x39506967, Z10) // c0
	BCAST(0x3ab743ce, Z11) // c1
	BCAST(0x3c088908, Z12) // c2
	BCAST(0x3d2aa9c1, Z13) // c3
	BCAST(0x3e2aaaaa, Z14) // c4
	BCAST(0x3f000000, Z15) // c5

loop:
	CMPQ CX, $16
	JGE  full
	TESTQ CX, CX
	JZ   done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	JMP  body

full:
	MOVL $0xffff, AX
	KMOVW AX, K1

body:
	VMOVUPS.Z (DI), K1, Z0
	VSUBPS Z20, Z0, Z0          // v - mx
	VMULPS Z21, Z0, Z0          // * scale: x
	VMULPS Z22, Z0, Z1          // x*log2e
	VADDPS Z23, Z1, Z1          // + 0.5
	VRNDSCALEPS $9, Z1, Z1      // floor: n
	VMULPS Z24, Z1, Z2          // n*ln2hi
	VSUBPS Z2, Z0, Z2           // r = x - n*ln2hi
	VMULPS Z25, Z1, Z3          // n*ln2lo
	VSUBPS Z3, Z2, Z2           // r -= n*ln2lo
	VMULPS Z10, Z2, Z3          // p = c0*r
	VADDPS Z11, Z3, Z3          // + c1
	VMULPS Z2, Z3, Z3
	VADDPS Z12, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z13, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z14, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z15, Z3, Z3          // p
	VMULPS Z2, Z3, Z3           // p*r
	VMULPS Z2, Z3, Z3           // *r
	VADDPS Z2, Z3, Z3           // + r
	VADDPS Z26, Z3, Z3          // + 1: e
	VCVTTPS2DQ Z1, Z4           // int32(n)
	VPADDD Z30, Z4, Z4
	VPSLLD $23, Z4, Z4          // 2^n
	VMULPS Z4, Z3, Z3           // e * 2^n
	VCMPPS $0x1e, Z27, Z0, K2   // x > hi
	VMOVAPS Z29, K2, Z3
	VCMPPS $0x11, Z28, Z0, K3   // x < lo
	VXORPS Z5, Z5, Z5
	VMOVAPS Z5, K3, Z3
	VMOVUPS Z3, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JG   loop

done:
	VZEROUPPER
	RET

// func geluAVX512(x *float32, n int)
//
// x = float32(0.5 x) (1 + Erf32(x/sqrt 2)), the same rounded steps as geluGo.
TEXT ·geluAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	BCAST(0x3f3504f3, Z20) // 1/sqrt2
	BCAST(0x40800000, Z21) // 4
	BCAST(0xc0800000, Z22) // -4
	BCAST(0x3f000000, Z23) // 0.5
	BCAST(0x3f800000, Z24) // 1
	BCAST(0xaf95df0b, Z10) // a13
	BCAST(0x32edffee, Z11) // a11
	BCAST(0xb60cff51, Z12) // a9
	BCAST(0xb86ec2d2, Z13) // a7
	BCAST(0xba40ac63, Z14) // a5
	BCAST(0xbb41a1f6, Z15) // a3
	BCAST(0xbc83dbd4, Z16) // a1
	BCAST(0xb77460cd, Z17) // b8
	BCAST(0xb95fbd29, Z18) // b6
	BCAST(0xbadc924e, Z19) // b4
	BCAST(0xbbf19bf8, Z25) // b2
	BCAST(0xbc69b6a7, Z26) // b0

gloop:
	CMPQ CX, $16
	JGE  gfull
	TESTQ CX, CX
	JZ   gdone
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	JMP  gbody

gfull:
	MOVL $0xffff, AX
	KMOVW AX, K1

gbody:
	VMOVUPS.Z (DI), K1, Z0      // v
	VMULPS Z20, Z0, Z1          // t = v/sqrt2
	VMAXPS Z22, Z1, Z1          // clamp to [-4, 4]
	VMINPS Z21, Z1, Z1
	VMULPS Z1, Z1, Z2           // x2
	VMULPS Z10, Z2, Z3          // p = a13*x2
	VADDPS Z11, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z12, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z13, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z14, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z15, Z3, Z3
	VMULPS Z2, Z3, Z3
	VADDPS Z16, Z3, Z3
	VMULPS Z1, Z3, Z3           // p *= x
	VMULPS Z17, Z2, Z4          // q = b8*x2
	VADDPS Z18, Z4, Z4
	VMULPS Z2, Z4, Z4
	VADDPS Z19, Z4, Z4
	VMULPS Z2, Z4, Z4
	VADDPS Z25, Z4, Z4
	VMULPS Z2, Z4, Z4
	VADDPS Z26, Z4, Z4
	VDIVPS Z4, Z3, Z3           // erf = p / q
	VADDPS Z24, Z3, Z3          // 1 + erf
	VMULPS Z23, Z0, Z5          // 0.5 v
	VMULPS Z3, Z5, Z5
	VMOVUPS Z5, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JG   gloop

gdone:
	VZEROUPPER
	RET

// AVX2 + FMA versions: the same rounded float32 steps in eight lanes (no FMA
// instruction is used: the Go functions round every product). Constants are
// read from memory, since sixteen YMM registers cannot hold them all; tail
// lanes are loaded and stored with VMASKMOVPS under a mask from ·tailMask8.

#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; DATA name<>+4(SB)/4, $bits; \
	DATA name<>+8(SB)/4, $bits; DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(log2e, 0x3fb8aa3b)
CONST8(half, 0x3f000000)
CONST8(ln2hi, 0x3f318000)
CONST8(ln2lo, 0xb95e8083)
CONST8(one, 0x3f800000)
CONST8(exphi, 0x42b17213)
CONST8(explo, 0xc2aeac4f)
CONST8(posinf, 0x7f800000)
CONST8(bias127, 0x0000007f)
CONST8(ec0, 0x39506967)
CONST8(ec1, 0x3ab743ce)
CONST8(ec2, 0x3c088908)
CONST8(ec3, 0x3d2aa9c1)
CONST8(ec4, 0x3e2aaaaa)
CONST8(ec5, 0x3f000000)
CONST8(invsqrt2, 0x3f3504f3)
CONST8(four, 0x40800000)
CONST8(minusfour, 0xc0800000)
CONST8(ea13, 0xaf95df0b)
CONST8(ea11, 0x32edffee)
CONST8(ea9, 0xb60cff51)
CONST8(ea7, 0xb86ec2d2)
CONST8(ea5, 0xba40ac63)
CONST8(ea3, 0xbb41a1f6)
CONST8(ea1, 0xbc83dbd4)
CONST8(eb8, 0xb77460cd)
CONST8(eb6, 0xb95fbd29)
CONST8(eb4, 0xbadc924e)
CONST8(eb2, 0xbbf19bf8)
CONST8(eb0, 0xbc69b6a7)

// TAILMASK8(count, tmp, y): y = lanes 0..count-1 all ones, the rest zero
// (count 0..8), from the table ·tailMask8 (eight -1 then eight 0).
#define TAILMASK8(count, tmp, y) \
	LEAQ ·tailMask8+32(SB), tmp \
	SHLQ $2, count \
	SUBQ count, tmp \
	SHRQ $2, count \
	VMOVDQU (tmp), y

// EXP8: Y3 = Exp32((Y0 - Y8) * Y9), as expShiftedAVX512's steps.
#define EXP8 \
	VSUBPS Y8, Y0, Y0 \
	VMULPS Y9, Y0, Y0 \
	VMULPS log2e<>(SB), Y0, Y1 \
	VADDPS half<>(SB), Y1, Y1 \
	VROUNDPS $9, Y1, Y1 \
	VMULPS ln2hi<>(SB), Y1, Y2 \
	VSUBPS Y2, Y0, Y2 \
	VMULPS ln2lo<>(SB), Y1, Y3 \
	VSUBPS Y3, Y2, Y2 \
	VMULPS ec0<>(SB), Y2, Y3 \
	VADDPS ec1<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ec2<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ec3<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ec4<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ec5<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS Y2, Y3, Y3 \
	VADDPS one<>(SB), Y3, Y3 \
	VCVTTPS2DQ Y1, Y4 \
	VPADDD bias127<>(SB), Y4, Y4 \
	VPSLLD $23, Y4, Y4 \
	VMULPS Y4, Y3, Y3 \
	VCMPPS $0x1e, exphi<>(SB), Y0, Y5 \
	VBLENDVPS Y5, posinf<>(SB), Y3, Y3 \
	VCMPPS $0x11, explo<>(SB), Y0, Y5 \
	VANDNPS Y3, Y5, Y3

// func expShiftedAVX2(x *float32, n int, mx, scale float32)
//
// x[j] = Exp32((x[j] - mx) * scale), the same rounded float32 steps as Exp32.
TEXT ·expShiftedAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS mx+16(FP), Y8
	VBROADCASTSS scale+20(FP), Y9

eloop:
	CMPQ CX, $8
	JL   etail
	VMOVUPS (DI), Y0
	EXP8
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  eloop

etail:
	TESTQ CX, CX
	JZ    edone
	TAILMASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y0
	EXP8
	VMASKMOVPS Y3, Y6, (DI)

edone:
	VZEROUPPER
	RET

// GELU8: Y5 = float32(0.5 Y0) (1 + Erf32(Y0/sqrt 2)), as geluAVX512's steps.
#define GELU8 \
	VMULPS invsqrt2<>(SB), Y0, Y1 \
	VMAXPS minusfour<>(SB), Y1, Y1 \
	VMINPS four<>(SB), Y1, Y1 \
	VMULPS Y1, Y1, Y2 \
	VMULPS ea13<>(SB), Y2, Y3 \
	VADDPS ea11<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ea9<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ea7<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ea5<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ea3<>(SB), Y3, Y3 \
	VMULPS Y2, Y3, Y3 \
	VADDPS ea1<>(SB), Y3, Y3 \
	VMULPS Y1, Y3, Y3 \
	VMULPS eb8<>(SB), Y2, Y4 \
	VADDPS eb6<>(SB), Y4, Y4 \
	VMULPS Y2, Y4, Y4 \
	VADDPS eb4<>(SB), Y4, Y4 \
	VMULPS Y2, Y4, Y4 \
	VADDPS eb2<>(SB), Y4, Y4 \
	VMULPS Y2, Y4, Y4 \
	VADDPS eb0<>(SB), Y4, Y4 \
	VDIVPS Y4, Y3, Y3 \
	VADDPS one<>(SB), Y3, Y3 \
	VMULPS half<>(SB), Y0, Y5 \
	VMULPS Y3, Y5, Y5

// func geluAVX2(x *float32, n int)
//
// x = float32(0.5 x) (1 + Erf32(x/sqrt 2)), the same rounded steps as geluGo.
TEXT ·geluAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX

gloop2:
	CMPQ CX, $8
	JL   gtail2
	VMOVUPS (DI), Y0
	GELU8
	VMOVUPS Y5, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  gloop2

gtail2:
	TESTQ CX, CX
	JZ    gdone2
	TAILMASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y0
	GELU8
	VMASKMOVPS Y5, Y6, (DI)

gdone2:
	VZEROUPPER
	RET
