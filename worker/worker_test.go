package worker_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

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
