// Package paired holds the statistics of adaptive sweeps: the interval of a
// grid point's accuracy over image blocks and trials, the paired interval
// of the gain of one setting over another on the same units, the
// precision-target rule and the sequential paired race
// (docs/STATISTICS.md states the formulas and their guarantees).
//
// Every decision is a pure function of committed per-shard counts
// (integers), so replicas that replay the same results take the same
// decisions. The arithmetic that feeds a decision is deterministic across
// machines: it iterates in a fixed order, uses only IEEE-754 addition,
// subtraction, multiplication, division and square root, and wraps every
// product that meets an addition in an explicit float64 conversion, which
// the Go specification says prevents fusing it into a multiply-add (arm64
// would fuse it, amd64 would not). The one transcendental function, the
// arc tangent of Student's t distribution, is computed here the same way
// rather than by the math package, whose assembly differs by platform.
//
// The package imports only the standard library: the coordinator's state
// machine can call it without linking the simulator.
package paired
