// Package linalg holds the float32 kernels of the simulator: matrix products,
// LayerNorm, softmax, GELU and the fast elementary functions they use.
//
// Every fast kernel states its plain reference loop in its doc comment and
// has a reference implementation that the tests compare it against.
package linalg
