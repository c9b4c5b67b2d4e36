// Package cfpb holds the Go code generated from proto/*.proto: the sweep
// messages, the coordinator's gRPC services and the raft commands.
// Regenerate it with scripts/gen-proto.sh; do not edit the .pb.go files.
package cfpb

// LeaderTrailer is the gRPC trailer in which a follower that refuses a call
// names the leader's API address (see the Work and Sweeps services).
const LeaderTrailer = "clipformer-leader"
