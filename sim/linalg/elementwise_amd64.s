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
