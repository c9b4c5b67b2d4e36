package coordinator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/coordinator"
)

// Retry repeats what its policy allows, and no more: a Submit must never
// be repeated after an Unavailable of the connection, where it may have run.
func TestRetryRepeatsOnlyWhatItsPolicyAllows(t *testing.T) {
	ctx := context.Background()
	plain := status.Error(codes.Unavailable, "connection reset")
	for _, tc := range []struct {
		name   string
		policy coordinator.RetryPolicy
		err    error
		want   int // calls
	}{
		{"plain Unavailable, refusals only", coordinator.RetryRefusals, plain, 1},
		{"plain Unavailable, any Unavailable", coordinator.RetryUnavailable, plain, 3},
		{"not found", coordinator.RetryUnavailable, status.Error(codes.NotFound, "no such sweep"), 1},
		{"a plain error", coordinator.RetryUnavailable, errors.New("boom"), 1},
	} {
		calls := 0
		err := coordinator.Retry(ctx, 10*time.Second, tc.policy, func(context.Context) error {
			calls++
			if calls == 3 {
				return nil
			}
			return tc.err
		})
		if calls != tc.want {
			t.Errorf("%s: %d calls, want %d (err %v)", tc.name, calls, tc.want, err)
		}
	}
}

// Retry gives up when its time is out, with the last error.
func TestRetryGivesUpWithinItsTimeWithTheLastError(t *testing.T) {
	start := time.Now()
	last := status.Error(codes.Unavailable, "still electing")
	err := coordinator.Retry(context.Background(), 300*time.Millisecond, coordinator.RetryUnavailable, func(context.Context) error { return last })
	if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
		t.Fatalf("gave up after %v, want about 300ms", took)
	}
	if !errors.Is(err, last) && status.Convert(err).Message() != "still electing" {
		t.Fatalf("err %v, want the last one", err)
	}
}
