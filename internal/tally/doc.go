// Package tally is the result arithmetic that the simulator, the workers and
// the coordinator share: exact, order-free sums of float64 values and the
// mergeable summary of an evaluation (images, correct, per-block SNR sums).
//
// It imports only the standard library, so that the coordinator can merge
// shard results without linking the simulator.
package tally
