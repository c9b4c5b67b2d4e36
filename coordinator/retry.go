package coordinator

import (
	"context"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// refusalDelay is the pause a coordinator suggests when it refuses a call
// for a moment: about one election of a loopback or LAN cluster.
const refusalDelay = 200 * time.Millisecond

// refusal is the answer of a coordinator that did nothing with a call and
// expects to serve the same call shortly: no leader elected yet, a node
// taking up leadership, a leader whose address is not known yet. It is
// codes.Unavailable with a RetryInfo detail, which is what tells it apart
// from an Unavailable of the connection (where the call may have run).
func refusal(format string, args ...any) error {
	st := status.Newf(codes.Unavailable, format, args...)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(refusalDelay)}); err == nil {
		st = d
	}
	return st.Err()
}

// IsRefusal reports whether err is a coordinator's passing refusal (see
// refusal): the call was not carried out, so even Submit may repeat it.
func IsRefusal(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return false
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

// RetryPolicy says which errors Retry repeats a call after.
type RetryPolicy int

const (
	// RetryRefusals repeats a call only after a coordinator's refusal: for
	// calls that must not run twice (Submit).
	RetryRefusals RetryPolicy = iota
	// RetryUnavailable repeats a call after any codes.Unavailable: for
	// calls that are safe to repeat (reads, state changes to a fixed state).
	RetryUnavailable
)

func (p RetryPolicy) retries(err error) bool {
	if p == RetryUnavailable {
		return status.Code(err) == codes.Unavailable
	}
	return IsRefusal(err)
}

// Retry calls f until it succeeds, fails with an error the policy does not
// repeat, ctx ends or the time within has passed since the first call; the
// pause between calls doubles from 50 ms to 1 s. f gets ctx itself, so a
// long call (a watch, a results stream) is not cut short. On giving up it
// returns f's last error, which says why the cluster did not answer.
func Retry(ctx context.Context, within time.Duration, p RetryPolicy, f func(context.Context) error) error {
	deadline := time.Now().Add(within)
	pause := 50 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !p.retries(err) || ctx.Err() != nil {
			return err
		}
		wait := min(pause, time.Until(deadline))
		if wait <= 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		pause = min(2*pause, time.Second)
	}
}
