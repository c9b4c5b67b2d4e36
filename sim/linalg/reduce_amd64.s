#include "textflag.h"


// func maxAVX512(x *float32, n int) float32 (n >= 1)
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z1 // -Inf
	VMOVAPS Z1, Z0      // running max

mloop:
	CMPQ CX, $0
	JLE  mdone
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  mfull
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

mfull:
	KMOVW AX, K1
	VMOVAPS Z1, Z2
	VMOVUPS (DI), K1, Z2 // absent lanes stay -Inf
	VMAXPS Z2, Z0, Z0
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  mloop

mdone:
	VEXTRACTF32X8 $1, Z0, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VMOVHLPS X0, X2, X2
	VMAXPS X2, X0, X0
	VMOVSHDUP X0, X2
	VMAXSS X2, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxAbsAVX512(x *float32, n int) float32
TEXT ·maxAbsAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z3 // |.| mask
	VXORPS Z0, Z0, Z0   // running max of |x|, from 0

aloop:
	CMPQ CX, $0
	JLE  adone
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  afull
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

afull:
	KMOVW AX, K1
	VMOVUPS.Z (DI), K1, Z2
	VPANDD Z3, Z2, Z2
	VMAXPS Z2, Z0, Z0
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  aloop

adone:
	VEXTRACTF32X8 $1, Z0, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VMOVHLPS X0, X2, X2
	VMAXPS X2, X0, X0
	VMOVSHDUP X0, X2
	VMAXSS X2, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sum16AVX512(x *float32, n int) float32
//
// The canonical sum: lane l (0..15) adds x[l], x[l+16], ... in order, then
// lanes combine as l + (l+8), then + (l+4), + (l+2), + (l+1).
TEXT ·sum16AVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VXORPS Z0, Z0, Z0

sloop:
	CMPQ CX, $0
	JLE  sdone
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  sfull
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

sfull:
	KMOVW AX, K1
	VMOVUPS.Z (DI), K1, Z2
	VADDPS Z2, Z0, Z0
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  sloop

sdone:
	VEXTRACTF32X8 $1, Z0, Y2
	VADDPS Y2, Y0, Y0          // l + (l+8)
	VEXTRACTF128 $1, Y0, X2
	VADDPS X2, X0, X0          // + (l+4)
	VMOVHLPS X0, X2, X2
	VADDPS X2, X0, X0          // + (l+2)
	VMOVSHDUP X0, X2
	VADDSS X2, X0, X0          // + (l+1)
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, n int, s float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Z1

cloop:
	CMPQ CX, $0
	JLE  cdone
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  cfull
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

cfull:
	KMOVW AX, K1
	VMOVUPS.Z (DI), K1, Z2
	VMULPS Z1, Z2, Z2
	VMOVUPS Z2, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  cloop

cdone:
	VZEROUPPER
	RET

// func addAVX512(dst, x *float32, n int)
TEXT ·addAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

dloop:
	CMPQ CX, $0
	JLE  ddone
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  dfull
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

dfull:
	KMOVW AX, K1
	VMOVUPS.Z (DI), K1, Z2
	VMOVUPS.Z (SI), K1, Z3
	VADDPS Z3, Z2, Z2
	VMOVUPS Z2, K1, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  dloop

ddone:
	VZEROUPPER
	RET

// func roundScaleAVX512(dst, x *float32, n int, k, unit float32)
//
// dst[i] = roundEven(x[i] k) unit.
TEXT ·roundScaleAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS k+24(FP), Z1
	VBROADCASTSS unit+28(FP), Z2
	VXORPS Z4, Z4, Z4 // +0: turns a rounded -0 into +0, as the Go version gives

rloop:
	CMPQ CX, $0
	JLE  rdone
	MOVL $0xffff, AX
	CMPQ CX, $16
	JGE  rfull
	MOVL $1, AX
	SHLL CX, AX
	DECL AX

rfull:
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z3
	VMULPS Z1, Z3, Z3
	VRNDSCALEPS $8, Z3, Z3 // nearest, ties to even
	VADDPS Z4, Z3, Z3
	VMULPS Z2, Z3, Z3
	VMOVUPS Z3, K1, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  rloop

rdone:
	VZEROUPPER
	RET
