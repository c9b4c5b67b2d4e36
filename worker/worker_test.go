package worker_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// confusedCoordinator welcomes a worker, then assigns it a lease without a
// spec, and reports what the worker answers.
type confusedCoordinator struct {
	cfpb.UnimplementedWorkServer
	got chan *cfpb.WorkerMessage
}

func (c *confusedCoordinator) Work(stream cfpb.Work_WorkServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Welcome{Welcome: &cfpb.Welcome{CoordinatorId: "c"}}}); err != nil {
		return err
	}
	lease := &cfpb.LeaseRef{SweepId: "s", Shard: 3, LeaseId: 9}
	if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Assign{Assign: &cfpb.Assign{Lease: lease}}}); err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		c.got <- m
	}
}

// An assignment without spec or work is refused with a failure for its
// lease and the slot credited back, instead of crashing the worker.
func TestWorkerRefusesAnAssignmentWithoutSpec(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fake := &confusedCoordinator{got: make(chan *cfpb.WorkerMessage, 64)}
	cfpb.RegisterWorkServer(srv, fake)
	go srv.Serve(lis)
	defer srv.Stop()

	ran := make(chan struct{}, 1)
	w := worker.New(worker.Config{ID: "w", Coordinators: []string{lis.Addr().String()}, Slots: 1,
		Run: func(context.Context, *cfpb.SweepSpec, *cfpb.ShardWork, func(int)) (*cfpb.Summary, error) {
			ran <- struct{}{}
			return nil, nil
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	var failure *cfpb.ShardFailure
	credits := 0
	deadline := time.After(10 * time.Second)
	for failure == nil || credits < 2 {
		select {
		case m := <-fake.got:
			if f := m.GetFailure(); f != nil {
				failure = f
			}
			if c := m.GetCredit(); c != nil {
				credits += int(c.Slots)
			}
		case <-ran:
			t.Fatal("the worker ran an assignment without spec")
		case <-deadline:
			t.Fatalf("failure %v, credits %d: want a failure for lease 9 and 2 credits (the first slot, then the refused one back)", failure, credits)
		}
	}
	if failure.Lease.GetLeaseId() != 9 || failure.Error == "" {
		t.Fatalf("failure %v", failure)
	}
}

// forgetfulCoordinator assigns one shard on its first stream, takes the
// failure report and drops the stream without acknowledging it; on later
// streams it reports what the worker sends, and acknowledges failures.
type forgetfulCoordinator struct {
	cfpb.UnimplementedWorkServer
	streams  atomic.Int32
	failures chan *cfpb.ShardFailure // from the second stream on
}

func (c *forgetfulCoordinator) Work(stream cfpb.Work_WorkServer) error {
	n := c.streams.Add(1)
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Welcome{Welcome: &cfpb.Welcome{CoordinatorId: "c"}}}); err != nil {
		return err
	}
	lease := &cfpb.LeaseRef{SweepId: "s", Shard: 1, LeaseId: 7, Attempt: 1}
	if n == 1 {
		assign := &cfpb.Assign{Lease: lease, Spec: &cfpb.SweepSpec{}, Work: &cfpb.ShardWork{Shard: 1, Count: 1}}
		if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Assign{Assign: assign}}); err != nil {
			return err
		}
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		f := m.GetFailure()
		if f == nil {
			continue
		}
		if n == 1 {
			return status.Error(codes.Unavailable, "gone before the failure was recorded")
		}
		c.failures <- f
		if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Ack{Ack: f.Lease}}); err != nil {
			return err
		}
	}
}

// A failure report lost with its stream is sent again on the next one, as
// a result would be, until the coordinator acknowledges it: otherwise the
// attempt never counts and the shard's lease only expires.
func TestWorkerKeepsAFailureReportUntilAcknowledged(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fake := &forgetfulCoordinator{failures: make(chan *cfpb.ShardFailure, 16)}
	cfpb.RegisterWorkServer(srv, fake)
	go srv.Serve(lis)
	defer srv.Stop()

	w := worker.New(worker.Config{ID: "w", Coordinators: []string{lis.Addr().String()}, Slots: 1, RetryDelay: 20 * time.Millisecond,
		Run: func(context.Context, *cfpb.SweepSpec, *cfpb.ShardWork, func(int)) (*cfpb.Summary, error) {
			return nil, errors.New("the model file is missing")
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case f := <-fake.failures:
		if f.Lease.GetLeaseId() != 7 || f.Error != "the model file is missing" {
			t.Fatalf("failure %v", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the failure report was not sent again after its stream broke (%d streams)", fake.streams.Load())
	}
	// Acknowledged, it is no longer held: a drain completes.
	w.Drain()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not drain after its failure report was acknowledged")
	}
}
