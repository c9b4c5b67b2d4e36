package sim

import "github.com/clipformer/clipformer/internal/tally"

// ExactSum is the order-independent 128-bit fixed-point sum the SNR
// accumulates in. It is package tally's type, so that a shard's sums merge
// in the coordinator (which does not link the simulator) with the same
// arithmetic as here.
type ExactSum = tally.Sum
