package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/clipformer/clipformer/sim/linalg"
)

// checkKernels reports what was wrong with CLIPFORMER_KERNELS (err is
// linalg.KernelsErr()): a level this CPU lacks is a warning on stderr (the
// kernels fall back to the best level below it, with the same results); an
// unknown value stops the command, so that a misspelt level does not measure
// or test the wrong kernels unnoticed.
func checkKernels(err error, stderr io.Writer) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, linalg.ErrKernelsUnavailable) {
		fmt.Fprintln(stderr, "clipformer: warning:", err)
		return nil
	}
	return err
}
