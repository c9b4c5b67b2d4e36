package coordinator

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// LeaderTrailer carries the leader's API address when a follower refuses a
// call.
const LeaderTrailer = cfpb.LeaderTrailer

// MaxWorkerSlots bounds the slots one worker may offer: a worker process
// runs one shard per slot, so more is a bug or a hostile peer.
const MaxWorkerSlots = 1024

// workService implements cfpb.WorkServer: one stream per worker, on the
// leader only.
type workService struct {
	cfpb.UnimplementedWorkServer
	n *Node
}

// Work serves one worker's stream, in steps: read its Hello, register it,
// open its session (re-adopting the leases it still holds), welcome it,
// then exchange messages until either side ends the stream.
func (w *workService) Work(stream cfpb.Work_WorkServer) error {
	if err := requireRole(stream.Context(), RoleWorker); err != nil {
		return err
	}
	lr := w.n.leaderRole()
	if lr == nil {
		return w.n.notLeader(stream)
	}
	hello, err := w.hello(stream)
	if err != nil {
		return err
	}
	if err := w.register(stream, hello); err != nil {
		return err
	}
	sess, dropped, err := lr.open(hello)
	if err != nil {
		return w.n.notLeader(stream)
	}
	defer lr.closeSession(sess)
	w.n.log.Info("worker connected", "worker", hello.WorkerId, "slots", hello.Slots, "version", hello.Version,
		"readopted", len(hello.Held)-len(dropped))
	if err := stream.Send(w.welcome(dropped)); err != nil {
		return err
	}
	return w.serve(stream, lr, sess)
}

// hello reads and checks the stream's first message.
func (w *workService) hello(stream cfpb.Work_WorkServer) (*cfpb.Hello, error) {
	first, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	hello := first.GetHello()
	if hello == nil || hello.WorkerId == "" {
		return nil, status.Error(codes.InvalidArgument, "coordinator: the first message of a Work stream must be Hello with a worker_id")
	}
	if hello.Slots < 1 || hello.Slots > MaxWorkerSlots {
		return nil, status.Errorf(codes.InvalidArgument, "coordinator: worker %s offers %d slots; want 1 to %d", hello.WorkerId, hello.Slots, MaxWorkerSlots)
	}
	if name := certName(stream.Context()); name != "" && !WorkerIDAllowed(name, hello.WorkerId) {
		return nil, status.Errorf(codes.PermissionDenied, "coordinator: the worker certificate %q may not act as worker %q; "+
			"a worker's id is its certificate's name or NAME/SUFFIX (here %q or %q)", name, hello.WorkerId, name, name+"/"+hello.WorkerId)
	}
	return hello, nil
}

// WorkerIDAllowed reports whether a worker whose certificate is named name
// may use id: the name itself, or name/anything (several workers sharing
// one certificate). So one worker's certificate can never take over the
// session, leases or results of a worker with another.
func WorkerIDAllowed(name, id string) bool {
	return id == name || (strings.HasPrefix(id, name+"/") && len(id) > len(name)+1)
}

// certName is the common name of the peer's verified certificate, or ""
// without TLS.
func certName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return ""
	}
	return ti.State.VerifiedChains[0][0].Subject.CommonName
}

// register records the worker in the replicated registry.
func (w *workService) register(stream cfpb.Work_WorkServer, hello *cfpb.Hello) error {
	_, err := w.n.Apply(&cfpb.Command{Cmd: &cfpb.Command_RegisterWorker{RegisterWorker: &cfpb.RegisterWorker{
		WorkerId: hello.WorkerId, Version: hello.Version, Slots: hello.Slots}}})
	switch {
	case errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost):
		return w.n.notLeader(stream)
	case err != nil:
		return status.Errorf(codes.Unavailable, "coordinator: register worker %s: %v", hello.WorkerId, err)
	}
	return nil
}

// welcome answers Hello: the stream's timing and the held leases that were
// not re-adopted.
func (w *workService) welcome(dropped []*cfpb.LeaseRef) *cfpb.CoordinatorMessage {
	cfg := &w.n.cfg
	return &cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Welcome{Welcome: &cfpb.Welcome{
		CoordinatorId: cfg.ID, HeartbeatIntervalMs: cfg.HeartbeatInterval.Milliseconds(),
		LeaseTtlMs: cfg.LeaseTTL.Milliseconds(), Dropped: dropped, PingIntervalMs: cfg.PingInterval.Milliseconds()}}}
}

// serve runs the stream's sender and receiver until one of them ends.
func (w *workService) serve(stream cfpb.Work_WorkServer, lr *leaderRole, sess *session) error {
	sent := make(chan error, 1)
	go func() { sent <- sendLoop(stream, lr, sess, w.n.leaving, w.n.cfg.PingInterval) }()
	received := make(chan error, 1)
	go func() { received <- w.receiveLoop(stream, lr, sess) }()
	select {
	case err := <-received:
		// The sender must be out of stream.Send before the handler returns.
		sess.close()
		<-sent
		if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
			err = nil
		}
		w.n.log.Info("worker disconnected", "worker", sess.worker, "err", err)
		return err
	case err := <-sent:
		switch {
		case err != nil:
			return err
		case lr.ctx.Err() != nil:
			return w.n.notLeader(stream)
		case isClosed(w.n.leaving):
			return refusal("coordinator %s is stopping; reconnect to another", w.n.cfg.ID)
		}
		return status.Error(codes.ResourceExhausted, "coordinator: worker stream fell behind; reconnect")
	}
}

// sendLoop sends the session's queued messages, and a Ping every interval
// (the worker's proof that this leader is alive), until the session closes,
// leadership ends, the node is leaving or a send fails.
func sendLoop(stream cfpb.Work_WorkServer, lr *leaderRole, sess *session, leaving <-chan struct{}, ping time.Duration) error {
	tick := time.NewTicker(ping)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := stream.Send(&cfpb.CoordinatorMessage{Msg: &cfpb.CoordinatorMessage_Ping{Ping: &cfpb.Ping{}}}); err != nil {
				sess.close()
				return err
			}
		case <-leaving:
			return nil
		case m := <-sess.out:
			if err := stream.Send(m); err != nil {
				sess.close()
				return err
			}
		case <-sess.closed:
			return nil
		case <-lr.ctx.Done():
			return nil
		}
	}
}

// receiveLoop hands each message from the worker to the leader until the
// stream ends, the worker breaks the protocol or leadership ends (nil).
func (w *workService) receiveLoop(stream cfpb.Work_WorkServer, lr *leaderRole, sess *session) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		if err := w.handle(lr, sess, m); err != nil {
			if errors.Is(err, ErrNotLeader) {
				return nil
			}
			return err
		}
	}
}

// handle applies one worker message to the leader's view.
func (w *workService) handle(lr *leaderRole, sess *session, m *cfpb.WorkerMessage) error {
	switch msg := m.Msg.(type) {
	case *cfpb.WorkerMessage_Credit:
		lr.credit(sess, msg.Credit.Slots)
	case *cfpb.WorkerMessage_Heartbeat:
		lr.heartbeat(sess, msg.Heartbeat)
	case *cfpb.WorkerMessage_Result:
		r := msg.Result
		if r.Summary == nil || r.SweepId == "" {
			return status.Errorf(codes.InvalidArgument, "coordinator: result without summary or sweep id from worker %s", sess.worker)
		}
		r.Worker = sess.worker
		return lr.submit(workerEvent{sess: sess, result: r})
	case *cfpb.WorkerMessage_Failure:
		f := msg.Failure
		if f.Lease == nil {
			return status.Errorf(codes.InvalidArgument, "coordinator: failure without lease from worker %s", sess.worker)
		}
		w.n.log.Warn("shard failed on worker", "worker", sess.worker, "sweep", f.Lease.SweepId, "shard", f.Lease.Shard, "err", f.Error)
		return lr.submit(workerEvent{sess: sess, failure: f})
	case *cfpb.WorkerMessage_Hello:
		lr.drain(sess, msg.Hello.Draining)
	}
	return nil
}

// isClosed reports whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
