package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/sim/linalg"
)

// An unknown CLIPFORMER_KERNELS value stops the command with linalg's
// message; a level the CPU lacks only warns; no problem, no output.
func TestKernelsProblemsStopOrWarn(t *testing.T) {
	var stderr bytes.Buffer
	if err := checkKernels(nil, &stderr); err != nil || stderr.Len() != 0 {
		t.Fatalf("no problem: err %v, stderr %q", err, stderr.String())
	}
	unknown := fmt.Errorf("%s=\"avx-2\": %w; allowed values: auto, avx2, generic", linalg.KernelsEnv, linalg.ErrUnknownKernels)
	if err := checkKernels(unknown, &stderr); !errors.Is(err, linalg.ErrUnknownKernels) || stderr.Len() != 0 {
		t.Fatalf("unknown value: err %v, stderr %q; want the error and no warning", err, stderr.String())
	}
	lacking := fmt.Errorf("%s=\"avx2\": %w; using generic", linalg.KernelsEnv, linalg.ErrKernelsUnavailable)
	if err := checkKernels(lacking, &stderr); err != nil || !strings.Contains(stderr.String(), "warning: "+lacking.Error()) {
		t.Fatalf("level lacking: err %v, stderr %q; want a warning only", err, stderr.String())
	}
}
