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
	VMAXPS Z0, Z2, Z0    // new > max ? new : max, so a NaN is passed over
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
	VXORPS X3, X3, X3
	VADDSS X3, X0, X0 // a zero maximum as +0
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
	VMAXPS Z0, Z2, Z0
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

// AVX2 versions: the same operations in eight lanes; tail lanes are loaded
// with VMASKMOVPS (absent lanes read as +0) under a mask from ·tailMask8.

// MASK8(count, tmp, y): y = lanes 0..count-1 all ones (count 0..8).
#define MASK8(count, tmp, y) \
	LEAQ ·tailMask8+32(SB), tmp \
	SHLQ $2, count \
	SUBQ count, tmp \
	SHRQ $2, count \
	VMOVDQU (tmp), y

// HMAX8(y, x, t): the largest lane of y (no NaN) into x's lane 0.
#define HMAX8(xlo, yy, t) \
	VEXTRACTF128 $1, yy, t \
	VMAXPS t, xlo, xlo \
	VMOVHLPS xlo, t, t \
	VMAXPS t, xlo, xlo \
	VMOVSHDUP xlo, t \
	VMAXSS t, xlo, xlo

// func maxAVX2(x *float32, n int) float32 (n >= 1)
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX
	MOVQ AX, X1
	VPBROADCASTD X1, Y1 // -Inf
	VMOVAPS Y1, Y0      // running max

m2loop:
	CMPQ CX, $8
	JL   m2tail
	VMOVUPS (DI), Y2
	VMAXPS Y0, Y2, Y0 // new > max ? new : max, so a NaN is passed over
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  m2loop

m2tail:
	TESTQ CX, CX
	JZ    m2done
	MASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y2
	VBLENDVPS Y6, Y2, Y1, Y2 // absent lanes -Inf
	VMAXPS Y0, Y2, Y0

m2done:
	HMAX8(X0, Y0, X2)
	VXORPS X3, X3, X3
	VADDSS X3, X0, X0 // a zero maximum as +0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxAbsAVX2(x *float32, n int) float32
TEXT ·maxAbsAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL $0x7fffffff, AX
	MOVQ AX, X3
	VPBROADCASTD X3, Y3 // |.| mask
	VXORPS Y0, Y0, Y0   // running max of |x|, from 0

a2loop:
	CMPQ CX, $8
	JL   a2tail
	VANDPS (DI), Y3, Y2
	VMAXPS Y0, Y2, Y0
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  a2loop

a2tail:
	TESTQ CX, CX
	JZ    a2done
	MASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y2
	VANDPS Y3, Y2, Y2
	VMAXPS Y0, Y2, Y0

a2done:
	HMAX8(X0, Y0, X2)
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sum16AVX2(x *float32, n int) float32
//
// The canonical sum: lanes 0..7 in Y0, lanes 8..15 in Y1, lane l adding x[l],
// x[l+16], ... in order; then l + (l+8), + (l+4), + (l+2), + (l+1).
TEXT ·sum16AVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

s2loop:
	CMPQ CX, $16
	JL   s2tail
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  s2loop

s2tail:
	TESTQ CX, CX
	JZ    s2done
	CMPQ  CX, $8
	JLE   s2low
	VADDPS (DI), Y0, Y0
	SUBQ $8, CX
	MASK8(CX, AX, Y6)
	VMASKMOVPS 32(DI), Y6, Y2
	VADDPS Y2, Y1, Y1
	JMP  s2done

s2low:
	MASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y2
	VADDPS Y2, Y0, Y0

s2done:
	VADDPS Y1, Y0, Y0          // l + (l+8)
	VEXTRACTF128 $1, Y0, X2
	VADDPS X2, X0, X0          // + (l+4)
	VMOVHLPS X0, X2, X2
	VADDPS X2, X0, X0          // + (l+2)
	VMOVSHDUP X0, X2
	VADDSS X2, X0, X0          // + (l+1)
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Y1

c2loop:
	CMPQ CX, $8
	JL   c2tail
	VMOVUPS (DI), Y2
	VMULPS Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  c2loop

c2tail:
	TESTQ CX, CX
	JZ    c2done
	MASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y2
	VMULPS Y1, Y2, Y2
	VMASKMOVPS Y2, Y6, (DI)

c2done:
	VZEROUPPER
	RET

// func addAVX2(dst, x *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

d2loop:
	CMPQ CX, $8
	JL   d2tail
	VMOVUPS (DI), Y2
	VADDPS (SI), Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  d2loop

d2tail:
	TESTQ CX, CX
	JZ    d2done
	MASK8(CX, AX, Y6)
	VMASKMOVPS (DI), Y6, Y2
	VMASKMOVPS (SI), Y6, Y3
	VADDPS Y3, Y2, Y2
	VMASKMOVPS Y2, Y6, (DI)

d2done:
	VZEROUPPER
	RET

// func roundScaleAVX2(dst, x *float32, n int, k, unit float32)
//
// dst[i] = roundEven(x[i] k) unit.
TEXT ·roundScaleAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS k+24(FP), Y1
	VBROADCASTSS unit+28(FP), Y2
	VXORPS Y4, Y4, Y4 // +0: turns a rounded -0 into +0, as the Go version gives

r2loop:
	CMPQ CX, $8
	JL   r2tail
	VMOVUPS (SI), Y3
	VMULPS Y1, Y3, Y3
	VROUNDPS $8, Y3, Y3 // nearest, ties to even
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  r2loop

r2tail:
	TESTQ CX, CX
	JZ    r2done
	MASK8(CX, AX, Y6)
	VMASKMOVPS (SI), Y6, Y3
	VMULPS Y1, Y3, Y3
	VROUNDPS $8, Y3, Y3
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VMASKMOVPS Y3, Y6, (DI)

r2done:
	VZEROUPPER
	RET
