package coordinator

import (
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// LeaderTrailer carries the leader's API address when a follower refuses a
// call.
const LeaderTrailer = cfpb.LeaderTrailer

// MaxWorkerSlots bounds the slots one worker may offer: a worker process
// runs one shard per slot, so more is a bug or a hostile peer.
const MaxWorkerSlots = 1024

// workService implements cfpb.WorkServer.
type workService struct {
	cfpb.UnimplementedWorkServer
	n *Node
}

// notLeader is the refusal a follower gives, with the leader's address.
func (n *Node) notLeader(stream grpc.ServerStream) error {
	id, addr := n.LeaderAPI()
	if stream != nil && addr != "" {
		stream.SetTrailer(metadata.Pairs(LeaderTrailer, addr))
	}
	if id == "" {
		return refusal("coordinator: no leader elected yet")
	}
	return status.Errorf(codes.FailedPrecondition, "coordinator %s is not the leader; the leader is %s at %s", n.cfg.ID, id, addr)
}

func (w *workService) Work(stream cfpb.Work_WorkServer) error {
	n := w.n
	if err := requireRole(stream.Context(), RoleWorker); err != nil {
		return err
	}
	lr := n.leaderRole()
	if lr == nil {
		return n.notLeader(stream)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil || hello.WorkerId == "" {
		return status.Error(codes.InvalidArgument, "coordinator: the first message of a Work stream must be Hello with a worker_id")
	}
	if hello.Slots < 1 || hello.Slots > MaxWorkerSlots {
		return status.Errorf(codes.InvalidArgument, "coordinator: worker %s offers %d slots; want 1 to %d", hello.WorkerId, hello.Slots, MaxWorkerSlots)
	}
	if _, err := n.Apply(&cfpb.Command{Cmd: &cfpb.Command_RegisterWorker{RegisterWorker: &cfpb.RegisterWorker{
		WorkerId: hello.WorkerId, Version: hello.Version, Slots: hello.Slots}}}); err != nil {
		if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost) {
			return n.notLeader(stream)
		}
		return status.Errorf(codes.Unavailable, "coordinator: register worker: %v", err)
	}
	sess, dropped, err := lr.open(hello)
	if err != nil {
		return n.notLeader(stream)
	}
	defer lr.closeSession(sess)
	n.log.Info("worker connected", "worker", hello.WorkerId, "slots", hello.Slots, "version", hello.Version,
		"readopted", len(hello.Held)-len(dropped))
	if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Welcome{Welcome: &cfpb.Welcome{
		CoordinatorId: n.cfg.ID, HeartbeatIntervalMs: n.cfg.HeartbeatInterval.Milliseconds(),
		LeaseTtlMs: n.cfg.LeaseTTL.Milliseconds(), Dropped: dropped}}}); err != nil {
		return err
	}

	sendErr := make(chan error, 1)
	go func() {
		for {
			select {
			case m := <-sess.out:
				if err := stream.Send(m); err != nil {
					sendErr <- err
					sess.close()
					return
				}
			case <-sess.closed:
				sendErr <- nil
				return
			case <-lr.ctx.Done():
				sendErr <- nil
				return
			}
		}
	}()
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			switch msg := m.Msg.(type) {
			case *cfpb.WorkerMessage_Credit:
				lr.credit(sess, msg.Credit.Slots)
			case *cfpb.WorkerMessage_Heartbeat:
				lr.heartbeat(sess, msg.Heartbeat)
			case *cfpb.WorkerMessage_Result:
				r := msg.Result
				if r.Summary == nil || r.SweepId == "" {
					recvErr <- status.Errorf(codes.InvalidArgument, "coordinator: result without summary or sweep id from worker %s", sess.worker)
					return
				}
				r.Worker = sess.worker
				if lr.submit(workerEvent{sess: sess, result: r}) != nil {
					recvErr <- nil
					return
				}
			case *cfpb.WorkerMessage_Failure:
				if msg.Failure.Lease == nil {
					recvErr <- status.Errorf(codes.InvalidArgument, "coordinator: failure without lease from worker %s", sess.worker)
					return
				}
				n.log.Warn("shard failed on worker", "worker", sess.worker, "sweep", msg.Failure.Lease.SweepId,
					"shard", msg.Failure.Lease.Shard, "err", msg.Failure.Error)
				if lr.submit(workerEvent{sess: sess, failure: msg.Failure}) != nil {
					recvErr <- nil
					return
				}
			case *cfpb.WorkerMessage_Hello:
				lr.drain(sess, msg.Hello.Draining)
			}
		}
	}()
	select {
	case err := <-recvErr:
		// The sender must be out of stream.Send before the handler returns.
		sess.close()
		<-sendErr
		if errors.Is(err, io.EOF) {
			err = nil
		}
		if err != nil && status.Code(err) == codes.Canceled {
			err = nil
		}
		n.log.Info("worker disconnected", "worker", sess.worker, "err", err)
		return err
	case err := <-sendErr:
		if err != nil {
			return err
		}
		if lr.ctx.Err() != nil {
			return n.notLeader(stream)
		}
		return status.Error(codes.ResourceExhausted, "coordinator: worker stream fell behind; reconnect")
	}
}
