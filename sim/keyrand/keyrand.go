// Package keyrand derives independent, reproducible random streams from key
// tuples, so that every random draw of a simulation is a pure function of
// (sweep seed, trial, image, layer, head, stream kind) and never of batch size,
// shard boundaries, worker count or retries.
package keyrand

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// Kind names what a stream is used for, so that two uses with otherwise equal
// keys never share draws.
type Kind uint32

// Stream kinds.
const (
	WriteK      Kind = iota + 1 // write noise of K^T, per image, layer, head
	WriteV                      // write noise of V, per image, layer, head
	ReadQK                      // read noise of the Q K^T product
	ReadAV                      // read noise of the A V product
	ReadLinear                  // read noise of a static linear layer, per image
	Programming                 // programming noise of a static weight, per trial
)

// Key identifies one random stream. Layer and Head are -1 where they do not
// apply. Sub distinguishes several matrices of one layer (for example which
// linear of a block).
type Key struct {
	Seed  uint64
	Trial int
	Image int
	Layer int
	Head  int
	Sub   int
	Kind  Kind
}

// Seed32 is the SHA-256 of the key's fields (little-endian, 8 bytes each):
// the 256-bit state of the key's xoshiro256** stream.
func (k Key) Seed32() [32]byte {
	var b [8 * 7]byte
	binary.LittleEndian.PutUint64(b[0:], k.Seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(int64(k.Trial)))
	binary.LittleEndian.PutUint64(b[16:], uint64(int64(k.Image)))
	binary.LittleEndian.PutUint64(b[24:], uint64(int64(k.Layer)))
	binary.LittleEndian.PutUint64(b[32:], uint64(int64(k.Head)))
	binary.LittleEndian.PutUint64(b[40:], uint64(int64(k.Sub)))
	binary.LittleEndian.PutUint64(b[48:], uint64(k.Kind))
	return sha256.Sum256(b[:])
}

// Stream is a keyed source of uniform and Gaussian draws: xoshiro256** (Blackman
// and Vigna) whose 256-bit state is the SHA-256 of the key. A statistically
// strong generator that costs about a nanosecond a draw; the hash makes
// streams of neighbouring keys independent.
type Stream struct {
	s0, s1, s2, s3 uint64
}

// New returns the stream for key k.
func New(k Key) *Stream {
	s := &Stream{}
	s.Reset(k)
	return s
}

// Reset re-seeds s to the start of the stream for key k.
func (s *Stream) Reset(k Key) {
	h := k.Seed32()
	s.s0 = binary.LittleEndian.Uint64(h[0:])
	s.s1 = binary.LittleEndian.Uint64(h[8:])
	s.s2 = binary.LittleEndian.Uint64(h[16:])
	s.s3 = binary.LittleEndian.Uint64(h[24:])
	if s.s0|s.s1|s.s2|s.s3 == 0 { // the one state xoshiro cannot leave
		s.s0 = 1
	}
}

// Uint64 returns 64 uniform bits.
func (s *Stream) Uint64() uint64 {
	r := bits.RotateLeft64(s.s1*5, 7) * 9
	t := s.s1 << 17
	s.s2 ^= s.s0
	s.s3 ^= s.s1
	s.s1 ^= s.s2
	s.s0 ^= s.s3
	s.s2 ^= t
	s.s3 = bits.RotateLeft64(s.s3, 45)
	return r
}

// Float64 returns a uniform draw in [0, 1) with 53 random bits.
func (s *Stream) Float64() float64 { return float64(s.Uint64()>>11) / (1 << 53) }
