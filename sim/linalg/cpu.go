package linalg

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Level is a set of kernels. Every level gives the same bits (sim/DESIGN.md,
// "Determinism"); they differ only in speed.
type Level int32

const (
	// LevelGeneric is pure Go: any architecture, and the reference the others
	// are tested against.
	LevelGeneric Level = iota
	// LevelAVX2 is AVX2 + FMA assembly (amd64 CPUs since Haswell and Zen 1).
	LevelAVX2
	// LevelAVX512 is AVX-512 F/DQ/BW/VL assembly.
	LevelAVX512
)

func (l Level) String() string {
	switch l {
	case LevelGeneric:
		return "generic"
	case LevelAVX2:
		return "avx2"
	case LevelAVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", int32(l))
}

// KernelsEnv is the environment variable that chooses the kernels, read once
// at start-up: auto (or unset: the fastest this CPU has), avx2 (the AVX2 +
// FMA kernels even where AVX-512 exists, to measure or test them there) or
// generic (pure Go).
const KernelsEnv = "CLIPFORMER_KERNELS"

var (
	// ErrUnknownKernels: KernelsEnv holds a value other than the allowed ones.
	ErrUnknownKernels = errors.New("unknown kernel level")
	// ErrKernelsUnavailable: KernelsEnv asks for kernels this CPU cannot run.
	ErrKernelsUnavailable = errors.New("kernel level not available on this CPU")
)

// level is the kernel level in use. It is atomic so that UseKernels may
// switch it in tests while other goroutines run kernels: every level gives
// the same bits, so a switch cannot change a result.
var level atomic.Int32

// envErr is the problem found in KernelsEnv at start-up, or nil.
var envErr error

func init() {
	l, err := chooseLevel(os.Getenv(KernelsEnv), bestLevel())
	level.Store(int32(l))
	envErr = err
}

// startLevel is the level KernelsEnv chooses at start-up, for package
// variables initialised before init runs.
func startLevel() Level {
	l, _ := chooseLevel(os.Getenv(KernelsEnv), bestLevel())
	return l
}

// bestLevel is the fastest level this CPU runs.
func bestLevel() Level {
	switch {
	case hasAVX512:
		return LevelAVX512
	case hasFMA:
		return LevelAVX2
	}
	return LevelGeneric
}

// chooseLevel maps KernelsEnv's value to a level, given the best one the CPU
// has. An unknown value gives best and an error wrapping ErrUnknownKernels;
// a level the CPU lacks gives the best one below it and an error wrapping
// ErrKernelsUnavailable.
func chooseLevel(value string, best Level) (Level, error) {
	var want Level
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "", "auto":
		return best, nil
	case "avx2":
		want = LevelAVX2
	case "generic":
		return LevelGeneric, nil
	default:
		return best, fmt.Errorf("%s=%q: %w; allowed values: auto (the default: %s on this CPU), avx2, generic",
			KernelsEnv, value, ErrUnknownKernels, best)
	}
	if want > best {
		return best, fmt.Errorf("%s=%q: %w (it needs AVX2 and FMA); using %s", KernelsEnv, value, ErrKernelsUnavailable, best)
	}
	return want, nil
}

// Kernels returns the kernel level in use.
func Kernels() Level { return Level(level.Load()) }

// KernelsErr reports what was wrong with KernelsEnv at start-up: nil, an
// error wrapping ErrUnknownKernels (the value is not allowed; Kernels is then
// the CPU's best level) or one wrapping ErrKernelsUnavailable (Kernels is
// then the best level below the one asked for). The package does not log;
// commands report it.
func KernelsErr() error { return envErr }

// Available lists the levels this CPU runs, slowest first.
func Available() []Level {
	var ls []Level
	for l := LevelGeneric; l <= bestLevel(); l++ {
		ls = append(ls, l)
	}
	return ls
}

// UseKernels switches to level l and returns a function that restores the
// previous level, so that tests and benchmarks can compare levels in one
// process. It is an error if this CPU cannot run l.
func UseKernels(l Level) (restore func(), err error) {
	if l < LevelGeneric || l > bestLevel() {
		return nil, fmt.Errorf("linalg: %w: %s (this CPU runs up to %s)", ErrKernelsUnavailable, l, bestLevel())
	}
	prev := level.Swap(int32(l))
	return func() { level.Store(prev) }, nil
}

// AVX512 reports whether this package's AVX-512 kernels are in use, for
// other packages' kernels to follow the same choice.
func AVX512() bool { return Kernels() == LevelAVX512 }
