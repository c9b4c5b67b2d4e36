package coordinator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// MaxRequestBytes bounds one message a coordinator receives: twice the
// largest spec (sweep.MaxSpecBytes), room for a Submit's envelope and the
// largest worker result, and far below what would strain a leader. gRPC
// refuses a larger message with RESOURCE_EXHAUSTED before decoding it.
const MaxRequestBytes = 2 * sweep.MaxSpecBytes

// ServerOptions are the gRPC options of a coordinator's API: mutual TLS
// when tlsCfg is set (a peer without a valid certificate gets
// Unauthenticated), role checks, a bound on each message received and
// explicit keepalive.
func ServerOptions(tlsCfg *tls.Config) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		// A peer that stops answering pings (a frozen worker or client) is
		// cut off within about Time + Timeout.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 5 * time.Second, Timeout: 3 * time.Second}),
		// Clients ping every clientKeepalive().Time; allow it.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(authUnary),
		grpc.ChainStreamInterceptor(authStream),
	}
	if tlsCfg != nil {
		c := tlsCfg.Clone()
		// The handshake accepts a missing certificate so that the call can
		// be refused with a gRPC status (Unauthenticated) rather than a
		// broken connection.
		c.ClientAuth = tls.VerifyClientCertIfGiven
		opts = append(opts, grpc.Creds(credentials.NewTLS(c)))
	}
	return opts
}

// Register adds the node's services (Sweeps, Work, Cluster, health) to s.
func (n *Node) Register(s *grpc.Server, clientTLS *tls.Config) {
	n.clientTLS = clientTLS
	cfpb.RegisterSweepsServer(s, &sweepsService{n: n})
	cfpb.RegisterWorkServer(s, &workService{n: n})
	cfpb.RegisterClusterServer(s, &clusterService{n: n})
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	go func() {
		for {
			st := healthpb.HealthCheckResponse_NOT_SERVING
			if id, _ := n.LeaderAPI(); id != "" {
				st = healthpb.HealthCheckResponse_SERVING
			}
			h.SetServingStatus("", st)
			select {
			case <-n.stop:
				h.Shutdown()
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// retryConfig retries calls that are safe to repeat when a coordinator is
// briefly unavailable (an election, a node taking up leadership). Submit is
// left out: it is not idempotent.
const retryConfig = `{"methodConfig": [{
  "name": [
    {"service": "clipformer.v1.Sweeps", "method": "Get"}, {"service": "clipformer.v1.Sweeps", "method": "List"},
    {"service": "clipformer.v1.Sweeps", "method": "Watch"}, {"service": "clipformer.v1.Sweeps", "method": "Results"},
    {"service": "clipformer.v1.Sweeps", "method": "Cancel"}, {"service": "clipformer.v1.Sweeps", "method": "Pause"},
    {"service": "clipformer.v1.Sweeps", "method": "Resume"}, {"service": "clipformer.v1.Cluster", "method": "Status"}],
  "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.2s", "maxBackoff": "2s", "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"]}}]}`

// clientKeepalive finds a frozen coordinator (one that stops answering
// HTTP/2 pings) within about 13 s on any connection, idle or not; 10 s is
// the shortest ping interval gRPC allows a client. Worker streams notice
// sooner, by the leader's Pings (see cfpb.Ping), and watches by their
// updates.
func clientKeepalive() keepalive.ClientParameters {
	return keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}
}

// DialOptions are the client side of ServerOptions.
func DialOptions(tlsCfg *tls.Config) []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithKeepaliveParams(clientKeepalive()), grpc.WithDefaultServiceConfig(retryConfig)}
	if tlsCfg != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	return opts
}

// sweepsService implements cfpb.SweepsServer. Each handler is its leader
// half; forward and forwardStream pass the call on from a follower.
type sweepsService struct {
	cfpb.UnimplementedSweepsServer
	n *Node
}

func grpcErr(err error) error {
	switch {
	case err == nil:
		return nil
	case status.Code(err) != codes.Unknown:
		return err
	case errors.Is(err, sweep.ErrSpec):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, state.ErrUnknownSweep):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, state.ErrSweepActive):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, state.ErrQuota):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, ErrNotLeader):
		return refusal("%v", err) // nothing was appended to the log
	case errors.Is(err, ErrLeadershipLost):
		return status.Error(codes.Unavailable, err.Error()) // it may yet commit
	}
	return status.Error(codes.Internal, err.Error())
}

func newSweepID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

func (s *sweepsService) Submit(ctx context.Context, req *cfpb.SubmitRequest) (*cfpb.Sweep, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.Sweep, error) { return s.submit(ctx, lr, req) },
		func(c grpc.ClientConnInterface) (*cfpb.Sweep, error) { return cfpb.NewSweepsClient(c).Submit(ctx, req) })
}

// submit starts a sweep owned by the caller, within the caller's quota.
func (s *sweepsService) submit(ctx context.Context, lr *leaderRole, req *cfpb.SubmitRequest) (*cfpb.Sweep, error) {
	if req.GetSpec() == nil {
		return nil, status.Error(codes.InvalidArgument, "spec: missing")
	}
	// Refused before any copy or expansion of the spec.
	if n := proto.Size(req.Spec); n > sweep.MaxSpecBytes {
		return nil, status.Errorf(codes.InvalidArgument, "spec: %d bytes encoded, over the limit of %d bytes (sweep.MaxSpecBytes); refused unread", n, sweep.MaxSpecBytes)
	}
	owner, err := callerOwner(ctx)
	if err != nil {
		return nil, err
	}
	spec := proto.Clone(req.GetSpec()).(*cfpb.SweepSpec)
	sweep.ApplyDefaults(spec)
	if err := sweep.Validate(spec, sweep.Limits{MaxShards: s.n.cfg.MaxShards, RequireSHA256: !s.n.cfg.Embedded}); err != nil {
		return nil, grpcErr(err)
	}
	layout, err := sweep.NewLayout(spec)
	if err != nil {
		return nil, grpcErr(err)
	}
	quota := s.n.cfg.quota()
	// Checked here to refuse without a raft entry; the state machine checks
	// again on apply, where it is decided.
	if err := s.n.st.CheckQuota(owner, int64(layout.Shards()), quota); err != nil {
		return nil, grpcErr(err)
	}
	now := time.Now()
	id := newSweepID(now)
	if _, err := s.n.Apply(&cfpb.Command{NowNs: now.UnixNano(), Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{
		SweepId: id, Spec: spec, Owner: owner, Quota: quota, CopyDeterministicTrials: !s.n.cfg.ComputeEveryTrial}}}); err != nil {
		return nil, grpcErr(err)
	}
	lr.poke()
	s.n.log.Info("sweep submitted", "sweep", id, "name", spec.Name, "owner", owner)
	return s.describe(lr, id)
}

// mayChange refuses a client acting on a sweep of another owner; an admin
// may act on any sweep. An unknown sweep is NotFound.
func (s *sweepsService) mayChange(ctx context.Context, id, verb string) error {
	role, owner, err := callerOwnerRole(ctx)
	if err != nil {
		return err
	}
	sw, err := s.n.st.Sweep(id)
	if err != nil {
		return grpcErr(err)
	}
	if role == RoleAdmin || sw.Owner == owner {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "coordinator: sweep %s belongs to %s; %s %q may not %s it (its owner or an admin may)",
		id, ownerWord(sw.Owner), role, owner, verb)
}

// ownerWord names a sweep's owner in an error.
func ownerWord(owner string) string {
	if owner == "" {
		return "no owner (it was submitted without TLS)"
	}
	return fmt.Sprintf("owner %q", owner)
}

func (s *sweepsService) describe(lr *leaderRole, id string) (*cfpb.Sweep, error) {
	sw, err := s.n.st.Sweep(id)
	if err != nil {
		return nil, grpcErr(err)
	}
	sw.ShardsPerSecond, sw.EtaSeconds = lr.liveFigures(sw)
	return sw, nil
}

func (s *sweepsService) Get(ctx context.Context, req *cfpb.SweepRef) (*cfpb.Sweep, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.Sweep, error) { return s.describe(lr, req.GetId()) },
		func(c grpc.ClientConnInterface) (*cfpb.Sweep, error) { return cfpb.NewSweepsClient(c).Get(ctx, req) })
}

func (s *sweepsService) List(ctx context.Context, req *cfpb.ListRequest) (*cfpb.ListResponse, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.ListResponse, error) {
		out := &cfpb.ListResponse{}
		for _, sw := range s.n.st.Sweeps() {
			sw.ShardsPerSecond, sw.EtaSeconds = lr.liveFigures(sw)
			out.Sweeps = append(out.Sweeps, sw)
		}
		return out, nil
	}, func(c grpc.ClientConnInterface) (*cfpb.ListResponse, error) {
		return cfpb.NewSweepsClient(c).List(ctx, req)
	})
}

func terminal(st cfpb.SweepState) bool {
	return st == cfpb.SweepState_SWEEP_STATE_DONE || st == cfpb.SweepState_SWEEP_STATE_CANCELLED
}

func (s *sweepsService) Watch(req *cfpb.SweepRef, stream cfpb.Sweeps_WatchServer) error {
	return forwardStream(s.n, stream, func(lr *leaderRole) error { return s.watch(lr, req.GetId(), stream) },
		func(ctx context.Context, c grpc.ClientConnInterface) (cfpb.Sweeps_WatchClient, error) {
			return cfpb.NewSweepsClient(c).Watch(ctx, req)
		})
}

// watch sends the sweep at every change, at most five times a second and
// at least once a second, until it ends or this node stops leading.
func (s *sweepsService) watch(lr *leaderRole, id string, stream cfpb.Sweeps_WatchServer) error {
	ctx := stream.Context()
	var last *cfpb.Sweep
	lastSent := time.Time{}
	for {
		changed := s.n.changed()
		sw, err := s.describe(lr, id)
		if err != nil {
			return err
		}
		if last == nil || !proto.Equal(last.Progress, sw.Progress) || last.State != sw.State || time.Since(lastSent) > time.Second {
			if err := stream.Send(sw); err != nil {
				return err
			}
			last, lastSent = sw, time.Now()
		}
		if terminal(sw.State) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lr.ctx.Done():
			return refusal("coordinator: leadership lost; watch again")
		case <-s.n.leaving:
			return refusal("coordinator %s is stopping; watch again", s.n.cfg.ID)
		case <-changed:
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-time.After(time.Second):
		}
	}
}

// setState applies a state change on the leader, for the sweep's owner or
// an admin.
func (s *sweepsService) setState(ctx context.Context, lr *leaderRole, req *cfpb.SweepRef, st cfpb.SweepState) (*cfpb.Sweep, error) {
	verb := map[cfpb.SweepState]string{cfpb.SweepState_SWEEP_STATE_CANCELLED: "cancel", cfpb.SweepState_SWEEP_STATE_PAUSED: "pause",
		cfpb.SweepState_SWEEP_STATE_RUNNING: "resume"}[st]
	if err := s.mayChange(ctx, req.GetId(), verb); err != nil {
		return nil, err
	}
	if _, err := s.n.Apply(&cfpb.Command{Cmd: &cfpb.Command_SetState{SetState: &cfpb.SetSweepState{SweepId: req.GetId(), State: st}}}); err != nil {
		return nil, grpcErr(err)
	}
	if st == cfpb.SweepState_SWEEP_STATE_CANCELLED {
		lr.cancelSweep(req.GetId())
	}
	lr.poke()
	return s.describe(lr, req.GetId())
}

func (s *sweepsService) Cancel(ctx context.Context, req *cfpb.SweepRef) (*cfpb.Sweep, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.Sweep, error) {
		return s.setState(ctx, lr, req, cfpb.SweepState_SWEEP_STATE_CANCELLED)
	},
		func(c grpc.ClientConnInterface) (*cfpb.Sweep, error) { return cfpb.NewSweepsClient(c).Cancel(ctx, req) })
}

func (s *sweepsService) Pause(ctx context.Context, req *cfpb.SweepRef) (*cfpb.Sweep, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.Sweep, error) {
		return s.setState(ctx, lr, req, cfpb.SweepState_SWEEP_STATE_PAUSED)
	},
		func(c grpc.ClientConnInterface) (*cfpb.Sweep, error) { return cfpb.NewSweepsClient(c).Pause(ctx, req) })
}

func (s *sweepsService) Resume(ctx context.Context, req *cfpb.SweepRef) (*cfpb.Sweep, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.Sweep, error) {
		return s.setState(ctx, lr, req, cfpb.SweepState_SWEEP_STATE_RUNNING)
	},
		func(c grpc.ClientConnInterface) (*cfpb.Sweep, error) { return cfpb.NewSweepsClient(c).Resume(ctx, req) })
}

func (s *sweepsService) Delete(ctx context.Context, req *cfpb.SweepRef) (*cfpb.DeleteResponse, error) {
	return forward(s.n, func(lr *leaderRole) (*cfpb.DeleteResponse, error) { return s.delete(ctx, lr, req.GetId()) },
		func(c grpc.ClientConnInterface) (*cfpb.DeleteResponse, error) {
			return cfpb.NewSweepsClient(c).Delete(ctx, req)
		})
}

// delete removes a finished sweep, for its owner or an admin; a running
// or paused one is refused (FailedPrecondition): cancel it first.
func (s *sweepsService) delete(ctx context.Context, lr *leaderRole, id string) (*cfpb.DeleteResponse, error) {
	if err := s.mayChange(ctx, id, "delete"); err != nil {
		return nil, err
	}
	if _, err := s.n.Apply(&cfpb.Command{Cmd: &cfpb.Command_Delete{Delete: &cfpb.DeleteSweep{SweepId: id}}}); err != nil {
		return nil, grpcErr(err)
	}
	lr.forget([]string{id})
	s.n.log.Info("sweep deleted", "sweep", id)
	return &cfpb.DeleteResponse{Id: id}, nil
}

func (s *sweepsService) Results(req *cfpb.SweepRef, stream cfpb.Sweeps_ResultsServer) error {
	return forwardStream(s.n, stream, func(*leaderRole) error {
		res, err := s.n.st.Results(req.GetId())
		if err != nil {
			return grpcErr(err)
		}
		for _, p := range res {
			if err := stream.Send(p); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, c grpc.ClientConnInterface) (cfpb.Sweeps_ResultsClient, error) {
		return cfpb.NewSweepsClient(c).Results(ctx, req)
	})
}

// clusterService implements cfpb.ClusterServer.
type clusterService struct {
	cfpb.UnimplementedClusterServer
	n *Node
}

func (c *clusterService) Status(ctx context.Context, _ *cfpb.ClusterStatusRequest) (*cfpb.ClusterStatus, error) {
	return c.n.Status()
}

// Status describes the cluster as this node sees it.
func (n *Node) Status() (*cfpb.ClusterStatus, error) {
	cs := &cfpb.ClusterStatus{AnsweredBy: n.cfg.ID}
	cs.LeaderId, cs.LeaderAddress = n.LeaderAPI()
	stats := n.raft.Stats()
	cs.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	cs.CommitIndex, _ = strconv.ParseUint(stats["commit_index"], 10, 64)
	cs.AppliedIndex, _ = strconv.ParseUint(stats["applied_index"], 10, 64)
	cs.RaftState = stats["state"]
	fut := n.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return nil, status.Errorf(codes.Unavailable, "coordinator: raft configuration: %v", err)
	}
	grpcAddr := map[string]string{}
	for _, c := range n.st.Coordinators() {
		grpcAddr[c.Id] = c.GrpcAddress
	}
	for _, srv := range fut.Configuration().Servers {
		suff := map[raft.ServerSuffrage]string{raft.Voter: "voter", raft.Nonvoter: "nonvoter", raft.Staging: "staging"}[srv.Suffrage]
		cs.Coordinators = append(cs.Coordinators, &cfpb.Coordinator{Id: string(srv.ID), RaftAddress: string(srv.Address),
			GrpcAddress: grpcAddr[string(srv.ID)], Suffrage: suff, Leader: string(srv.ID) == cs.LeaderId})
	}
	live := map[string]*cfpb.WorkerInfo{}
	if lr := n.leaderRole(); lr != nil {
		live = lr.workerInfo()
	}
	for _, w := range n.st.Workers() {
		wi := &cfpb.WorkerInfo{Id: w.Id, Version: w.Version, Slots: w.Slots, ShardsDone: w.ShardsDone}
		if l, ok := live[w.Id]; ok {
			wi.Connected, wi.Leases, wi.Draining, wi.Slots = true, l.Leases, l.Draining, l.Slots
			wi.ImagesPerSecond, wi.LastHeartbeatNs = l.ImagesPerSecond, l.LastHeartbeatNs
		}
		cs.Workers = append(cs.Workers, wi)
	}
	return cs, nil
}

func (c *clusterService) AddCoordinator(ctx context.Context, req *cfpb.AddCoordinatorRequest) (*cfpb.ClusterStatus, error) {
	return forward(c.n, func(*leaderRole) (*cfpb.ClusterStatus, error) { return c.addCoordinator(ctx, req) },
		func(conn grpc.ClientConnInterface) (*cfpb.ClusterStatus, error) {
			return cfpb.NewClusterClient(conn).AddCoordinator(ctx, req)
		})
}

// addCoordinator adds a server as a non-voter, waits for its log to catch
// up, then promotes it.
func (c *clusterService) addCoordinator(ctx context.Context, req *cfpb.AddCoordinatorRequest) (*cfpb.ClusterStatus, error) {
	if req.Id == "" || req.RaftAddress == "" || req.GrpcAddress == "" {
		return nil, status.Error(codes.InvalidArgument, "add coordinator: id, raft_address and grpc_address are required")
	}
	if _, err := c.n.Apply(&cfpb.Command{Cmd: &cfpb.Command_SetCoordinator{SetCoordinator: &cfpb.SetCoordinator{
		Id: req.Id, RaftAddress: req.RaftAddress, GrpcAddress: req.GrpcAddress}}}); err != nil {
		return nil, grpcErr(err)
	}
	r := c.n.raft
	if err := r.AddNonvoter(raft.ServerID(req.Id), raft.ServerAddress(req.RaftAddress), 0, c.n.cfg.ApplyTimeout).Error(); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "add coordinator %s as non-voter: %v", req.Id, err)
	}
	// Promote once its log has caught up with ours.
	target := r.LastIndex()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if idx, err := c.n.remoteAppliedIndex(ctx, req.GrpcAddress); err == nil && idx >= target {
			break
		}
		if time.Now().After(deadline) {
			return nil, status.Errorf(codes.DeadlineExceeded, "coordinator %s did not catch up within 2 minutes; it stays a non-voter", req.Id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := r.AddVoter(raft.ServerID(req.Id), raft.ServerAddress(req.RaftAddress), 0, c.n.cfg.ApplyTimeout).Error(); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "promote coordinator %s: %v", req.Id, err)
	}
	c.n.log.Info("coordinator added", "id", req.Id)
	return c.n.Status()
}

// remoteAppliedIndex asks a coordinator for its commit index.
func (n *Node) remoteAppliedIndex(ctx context.Context, addr string) (uint64, error) {
	conn, err := grpc.NewClient(addr, DialOptions(n.clientTLS)...)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := cfpb.NewClusterClient(conn).Status(ctx, &cfpb.ClusterStatusRequest{})
	if err != nil {
		return 0, err
	}
	return st.CommitIndex, nil
}

func (c *clusterService) RemoveCoordinator(ctx context.Context, req *cfpb.RemoveCoordinatorRequest) (*cfpb.ClusterStatus, error) {
	return forward(c.n, func(*leaderRole) (*cfpb.ClusterStatus, error) { return c.removeCoordinator(req) },
		func(conn grpc.ClientConnInterface) (*cfpb.ClusterStatus, error) {
			return cfpb.NewClusterClient(conn).RemoveCoordinator(ctx, req)
		})
}

func (c *clusterService) removeCoordinator(req *cfpb.RemoveCoordinatorRequest) (*cfpb.ClusterStatus, error) {
	if req.Id == "" {
		return nil, status.Error(codes.InvalidArgument, "remove coordinator: id is required")
	}
	if err := c.n.raft.RemoveServer(raft.ServerID(req.Id), 0, c.n.cfg.ApplyTimeout).Error(); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "remove coordinator %s: %v", req.Id, err)
	}
	if req.Id != c.n.cfg.ID {
		if _, err := c.n.Apply(&cfpb.Command{Cmd: &cfpb.Command_SetCoordinator{SetCoordinator: &cfpb.SetCoordinator{Id: req.Id, Remove: true}}}); err != nil {
			return nil, grpcErr(err)
		}
	}
	return c.n.Status()
}
