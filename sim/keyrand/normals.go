package keyrand

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Normals is a keyed source of standard normal draws made for vector code:
// 16 xoshiro128** generators (Blackman and Vigna) side by side, lane l's
// state expanded from the SHA-256 of the key (tagged, so that it is not the
// key's Stream), each 32-bit output turned into one normal by the inverse
// of the normal distribution function. The draws come in steps of 16, lane
// l giving the l-th of each step. Every draw takes the same steps, without
// rejection, so that the AVX-512 and AVX2 kernels (normals_amd64.s) run
// straight through; they and the pure-Go twin (normalsGo) compute the same
// bits, every operation a rounded float32 operation without fusion.
//
// A 32-bit output u gives the draw's sign (bit 31) and its magnitude from
// the other 31 bits m: q = m 2^-31 + 2^-32 in (0, 1] (two float32
// roundings), the two-sided tail probability, and |z| = sqrt(2)
// erfinv(1 - q), with erfinv Giles's single-precision approximation (2010;
// relative error below about 4e-7) and its logarithm Cephes's logf. |z| is
// at most about 6.2 (q = 2^-32); a standard normal exceeds that with
// probability 6e-10.
type Normals struct {
	state [4 * normalLanes]uint32 // s0 of lanes 0..15, then s1, s2, s3
	buf   [normalLanes * normalBufSteps]float32
	pos   int // next unread draw in buf; len(buf) when empty
}

const (
	normalLanes    = 16
	normalBufSteps = 16
)

// NewNormals returns the normal source for key k.
func NewNormals(k Key) *Normals {
	g := &Normals{}
	g.Reset(k)
	return g
}

// Reset re-seeds g to the start of the draws for key k.
func (g *Normals) Reset(k Key) {
	var b [8*7 + 8]byte
	h := k.Seed32()
	copy(b[:32], h[:])
	copy(b[56:], "normals1")
	h = sha256.Sum256(b[:])
	// SplitMix64 expands the 256-bit hash into the 16 lanes' 128-bit states.
	x := binary.LittleEndian.Uint64(h[0:])
	for i := 0; i < len(g.state); i += 2 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		z ^= binary.LittleEndian.Uint64(h[8*(1+i/2%3):])
		g.state[i], g.state[i+1] = uint32(z), uint32(z>>32)
	}
	for l := 0; l < normalLanes; l++ { // the one state xoshiro cannot leave
		if g.state[l]|g.state[l+16]|g.state[l+32]|g.state[l+48] == 0 {
			g.state[l] = 1
		}
	}
	g.pos = len(g.buf)
}

// Fill sets dst to the next len(dst) draws.
func (g *Normals) Fill(dst []float32) {
	n := copy(dst, g.buf[g.pos:])
	g.pos += n
	dst = dst[n:]
	if steps := len(dst) / normalLanes; steps > 0 {
		normalSteps(&g.state, dst[:steps*normalLanes])
		dst = dst[steps*normalLanes:]
	}
	if len(dst) > 0 {
		normalSteps(&g.state, g.buf[:])
		g.pos = copy(dst, g.buf[:])
	}
}

// Norm returns the next draw.
func (g *Normals) Norm() float64 {
	if g.pos == len(g.buf) {
		normalSteps(&g.state, g.buf[:])
		g.pos = 0
	}
	g.pos++
	return float64(g.buf[g.pos-1])
}

// normalsGo fills dst (a multiple of 16 long) with len(dst)/16 steps of the
// 16 lanes, in pure Go.
func normalsGo(state *[4 * normalLanes]uint32, dst []float32) {
	s0, s1, s2, s3 := state[0:16:16], state[16:32:32], state[32:48:48], state[48:64:64]
	for i := 0; i+normalLanes <= len(dst); i += normalLanes {
		out := dst[i : i+normalLanes : i+normalLanes]
		for l := range out {
			b := s1[l]
			r := b * 5
			r = (r<<7 | r>>25) * 9
			t := b << 9
			s2[l] ^= s0[l]
			s3[l] ^= b
			s1[l] = b ^ s2[l]
			s0[l] ^= s3[l]
			s2[l] ^= t
			s3[l] = s3[l]<<11 | s3[l]>>21
			out[l] = normalOf(r)
		}
	}
}

// normalOf is the normal draw of one 32-bit output u.
func normalOf(u uint32) float32 {
	q := float32(float32(int32(u&0x7fffffff))*0x1p-31) + 0x1p-32
	x := 1 - q
	w := -log32(float32(q * float32(2-q)))
	var p float32
	if w < 5 {
		v := w - 2.5
		p = erfinvCentral[0]
		for _, c := range erfinvCentral[1:] {
			p = float32(p*v) + c
		}
	} else {
		v := float32(math.Sqrt(float64(w))) - 3
		p = erfinvTail[0]
		for _, c := range erfinvTail[1:] {
			p = float32(p*v) + c
		}
	}
	z := float32(float32(p*x) * math.Sqrt2)
	return math.Float32frombits(math.Float32bits(z) | u&0x80000000)
}

// Giles's coefficients of erfinv(x) / x in w = -log(1 - x^2): w - 2.5 below
// w = 5, sqrt(w) - 3 above.
var (
	erfinvCentral = [9]float32{2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
		0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941}
	erfinvTail = [9]float32{-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
		0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682}
	logfPoly = [9]float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
		1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1}
)

// log32 is Cephes's logf for a positive normal float32 x, each step rounded
// to float32: x = f 2^e with f in [sqrt(1/2), sqrt(2)), log x = e ln 2 +
// log f, log f a polynomial in f - 1, ln 2 split in two parts.
func log32(x float32) float32 {
	b := math.Float32bits(x)
	e := int32(b>>23) - 126
	f := math.Float32frombits(b&0x007fffff | 0x3f000000) // in [0.5, 1)
	if f < math.Sqrt2/2 {
		e--
		f += f
	}
	f -= 1
	z := float32(f * f)
	y := logfPoly[0]
	for _, c := range logfPoly[1:] {
		y = float32(y*f) + c
	}
	y = float32(float32(y*f) * z)
	ef := float32(e)
	y += float32(ef * -2.12194440e-4)
	y += float32(z * -0.5)
	r := f + y
	return r + float32(ef*0.693359375)
}
