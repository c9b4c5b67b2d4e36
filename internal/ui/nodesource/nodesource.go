// Package nodesource gives the dashboard (package ui) its data from a
// coordinator node in this process: a cluster's coordinator, or the
// single-node one of `clipformer run`. Reads of sweeps go through the
// node's API handlers, so a follower forwards them to the leader and the
// leader's live figures come along; results and shard tables are read
// from the node's own replica; actions run as the authenticated user, with
// the owner checks and forwarding of the same gRPC call.
package nodesource

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/ui"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// Source is a ui.Source over a node.
type Source struct {
	n *coordinator.Node
}

var _ ui.Source = (*Source)(nil)

// New returns the source of n. The node's services must be registered
// (Node.Register) before the first action, so that it knows whether it
// runs with TLS.
func New(n *coordinator.Node) *Source { return &Source{n: n} }

// reader is the identity of the dashboard's reads: any user may read.
func (s *Source) reader(ctx context.Context) context.Context {
	return s.n.AsCaller(ctx, coordinator.RoleClient, "dashboard")
}

// Sweeps lists the sweeps through the List handler.
func (s *Source) Sweeps(ctx context.Context) ([]*cfpb.Sweep, error) {
	r, err := s.n.Sweeps().List(s.reader(ctx), &cfpb.ListRequest{})
	if err != nil {
		return nil, uiErr(err)
	}
	return r.Sweeps, nil
}

// Sweep describes one sweep through the Get handler.
func (s *Source) Sweep(ctx context.Context, id string) (*cfpb.Sweep, error) {
	sw, err := s.n.Sweeps().Get(s.reader(ctx), &cfpb.SweepRef{Id: id})
	return sw, uiErr(err)
}

// Results aggregates the sweep from this node's replica.
func (s *Source) Results(ctx context.Context, id string) ([]*cfpb.PointResult, error) {
	res, err := s.n.State().Results(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ui.ErrNotFound, err)
	}
	return res, nil
}

// Shards reads the shard table from this node's replica.
func (s *Source) Shards(ctx context.Context, id string) ([]ui.Shard, error) {
	var out []ui.Shard
	err := s.n.EachShard(id, func(k, n int, b state.ShardBrief) {
		if out == nil {
			out = make([]ui.Shard, 0, n)
		}
		out = append(out, ui.Shard{State: b.State, Attempt: b.Attempt, Failures: b.Failures, Worker: b.Worker, LastError: b.LastError})
	})
	return out, uiErr(err)
}

// Act runs the action's handler as caller.
func (s *Source) Act(ctx context.Context, caller ui.Caller, a ui.Action, id string) error {
	ctx = s.n.AsCaller(ctx, caller.Role, caller.Name)
	ref := &cfpb.SweepRef{Id: id}
	sv := s.n.Sweeps()
	var err error
	switch a {
	case ui.ActionPause:
		_, err = sv.Pause(ctx, ref)
	case ui.ActionResume:
		_, err = sv.Resume(ctx, ref)
	case ui.ActionCancel:
		_, err = sv.Cancel(ctx, ref)
	case ui.ActionDelete:
		_, err = sv.Delete(ctx, ref)
	default:
		return fmt.Errorf("nodesource: unknown action %q", a)
	}
	return uiErr(err)
}

// Changed is closed when the node applies its next command.
func (s *Source) Changed() <-chan struct{} { return s.n.Changed() }

// Cluster asks every coordinator for its raft figures (this one directly,
// the others over the API, in parallel) and takes the workers from the
// leader's answer, which alone knows who is connected.
func (s *Source) Cluster(ctx context.Context) (*ui.Cluster, error) {
	self, err := s.n.Status()
	if err != nil {
		return nil, uiErr(err)
	}
	out := &ui.Cluster{LeaderID: self.LeaderId}
	statuses := make([]*cfpb.ClusterStatus, len(self.Coordinators))
	errs := make([]error, len(self.Coordinators))
	var wg sync.WaitGroup
	for i, c := range self.Coordinators {
		switch {
		case c.Id == self.AnsweredBy:
			statuses[i] = self
		case c.GrpcAddress == "":
			errs[i] = errors.New("no known API address")
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], errs[i] = s.n.PeerStatus(ctx, c.GrpcAddress)
			}()
		}
	}
	wg.Wait()
	workersFrom := self
	for i, c := range self.Coordinators {
		row := ui.Coordinator{ID: c.Id, RaftAddress: c.RaftAddress, APIAddress: c.GrpcAddress, Suffrage: c.Suffrage}
		if st := statuses[i]; st != nil {
			row.RaftState, row.Term, row.CommitIndex, row.AppliedIndex = st.RaftState, st.Term, st.CommitIndex, st.AppliedIndex
			if st.AnsweredBy == st.LeaderId {
				workersFrom = st
			}
		} else {
			row.Err = fmt.Sprint(errs[i])
		}
		out.Coordinators = append(out.Coordinators, row)
	}
	for _, w := range workersFrom.Workers {
		row := ui.Worker{ID: w.Id, Version: w.Version, Slots: w.Slots, Connected: w.Connected, Draining: w.Draining,
			Running: w.Leases, ShardsDone: w.ShardsDone, ImagesPerSecond: w.ImagesPerSecond}
		if w.LastHeartbeatNs > 0 {
			row.LastHeartbeat = time.Unix(0, w.LastHeartbeatNs)
		}
		out.Workers = append(out.Workers, row)
	}
	return out, nil
}

// uiErr maps the API's status codes to the dashboard's errors.
func uiErr(err error) error {
	if err == nil {
		return nil
	}
	kinds := map[codes.Code]error{codes.NotFound: ui.ErrNotFound, codes.PermissionDenied: ui.ErrForbidden,
		codes.FailedPrecondition: ui.ErrRefused, codes.Unavailable: ui.ErrUnavailable, codes.ResourceExhausted: ui.ErrRefused}
	if k, ok := kinds[status.Code(err)]; ok {
		return fmt.Errorf("%w: %s", k, status.Convert(err).Message())
	}
	return err
}
