// Package keyrand derives independent, reproducible random streams from key
// tuples, so that every random draw of a simulation is a pure function of
// (sweep seed, trial, image, layer, head, stream kind) and never of batch size,
// shard boundaries, worker count or retries.
package keyrand

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
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

// Seed32 hashes the key into a 32-byte ChaCha8 seed.
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

// Stream is a keyed source of uniform and Gaussian draws.
type Stream struct {
	src *rand.ChaCha8
	rng *rand.Rand
}

// New returns the stream for key k.
func New(k Key) *Stream {
	s := &Stream{src: rand.NewChaCha8(k.Seed32())}
	s.rng = rand.New(s.src)
	return s
}

// Reset re-seeds s to the start of the stream for key k, reusing its memory.
func (s *Stream) Reset(k Key) {
	s.src.Seed(k.Seed32())
}

// Norm returns a standard normal draw.
func (s *Stream) Norm() float64 { return s.rng.NormFloat64() }

// Float64 returns a uniform draw in [0, 1).
func (s *Stream) Float64() float64 { return s.rng.Float64() }

// Rand exposes the underlying generator for callers that need other
// distributions.
func (s *Stream) Rand() *rand.Rand { return s.rng }
