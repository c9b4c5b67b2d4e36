package ui

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// stateSource is a Source over a replicated state held in the test: the
// coordinator's own state machine, without raft or gRPC.
type stateSource struct {
	st  *state.State
	now int64

	mu      sync.Mutex
	notify  chan struct{}
	actions []string // "ROLE/NAME ACTION ID", in order
}

func newStateSource() *stateSource {
	return &stateSource{st: state.New(), notify: make(chan struct{})}
}

func (s *stateSource) apply(t testing.TB, c *cfpb.Command) *state.Response {
	t.Helper()
	s.mu.Lock()
	s.now++
	c.NowNs = s.now
	r := s.st.Apply(c)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	return r
}

func (s *stateSource) Sweeps(context.Context) ([]*cfpb.Sweep, error) { return s.st.Sweeps(), nil }

func (s *stateSource) Sweep(_ context.Context, id string) (*cfpb.Sweep, error) {
	sw, err := s.st.Sweep(id)
	if errors.Is(err, state.ErrUnknownSweep) {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return sw, err
}

func (s *stateSource) Results(_ context.Context, id string) ([]*cfpb.PointResult, error) {
	r, err := s.st.Results(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return r, nil
}

func (s *stateSource) Shards(_ context.Context, id string) ([]Shard, error) {
	var out []Shard
	err := s.st.EachShard(id, func(k, n int, b state.ShardBrief) {
		if out == nil {
			out = make([]Shard, 0, n)
		}
		out = append(out, Shard{State: b.State, Attempt: b.Attempt, Failures: b.Failures, Worker: b.Worker, LastError: b.LastError})
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return out, nil
}

func (s *stateSource) Cluster(context.Context) (*Cluster, error) {
	return &Cluster{LeaderID: "c1", Coordinators: []Coordinator{{ID: "c1", RaftState: "Leader", Term: 3, CommitIndex: 10, AppliedIndex: 10}}}, nil
}

func (s *stateSource) Act(_ context.Context, c Caller, a Action, id string) error {
	s.mu.Lock()
	s.actions = append(s.actions, fmt.Sprintf("%s/%s %s %s", c.Role, c.Name, a, id))
	s.mu.Unlock()
	st := map[Action]cfpb.SweepState{ActionPause: cfpb.SweepState_SWEEP_STATE_PAUSED, ActionResume: cfpb.SweepState_SWEEP_STATE_RUNNING,
		ActionCancel: cfpb.SweepState_SWEEP_STATE_CANCELLED}[a]
	if st == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now++
	r := s.st.Apply(&cfpb.Command{NowNs: s.now, Cmd: &cfpb.Command_SetState{SetState: &cfpb.SetSweepState{SweepId: id, State: st}}})
	close(s.notify)
	s.notify = make(chan struct{})
	return r.Err
}

func (s *stateSource) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

func (s *stateSource) acted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.actions...)
}

// smallSpec is a grid of gamma 0, 2, 4 by off and four (alpha, beta)
// settings, two trials of 40 images in 10-image shards: 120 shards.
const smallSpec = `name: dashboard test
model: {path: m}
dataset: {kind: folder, path: x, limit: 40}
grid:
  gamma: [0, 2, 4]
  clip_product: {alpha: [2, 4], beta: [0.25, 0.5], include_off: true}
trials: 2
images_per_shard: 10
`

func mustSpec(t testing.TB, y string) *cfpb.SweepSpec {
	t.Helper()
	s, err := sweep.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// summary is a shard's result with blocks of signal and noise sums.
func summary(rng *rand.Rand, images int64, blocks int) *cfpb.Summary {
	s := &cfpb.Summary{Images: images, Correct: images * int64(60+rng.IntN(40)) / 100}
	for range blocks {
		s.Signal = append(s.Signal, &cfpb.Sum128{Hi: uint64(1 + rng.IntN(1<<20)), Lo: rng.Uint64()})
		s.Noise = append(s.Noise, &cfpb.Sum128{Hi: uint64(rng.IntN(1 << 12)), Lo: rng.Uint64()})
	}
	return s
}

// submit adds a sweep of spec and completes the first done shards (in
// 4096-shard commands, as the leader batches them), leases the next
// leased ones and leaves the rest pending. It returns the sweep's id.
func (s *stateSource) submit(t testing.TB, id string, spec *cfpb.SweepSpec, done, leased int) string {
	t.Helper()
	s.apply(t, &cfpb.Command{Cmd: &cfpb.Command_Submit{Submit: &cfpb.SubmitSweep{SweepId: id, Spec: spec, Owner: "alice"}}})
	l, err := sweep.NewLayout(spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for lo := 0; lo < done+leased; lo += 4096 {
		var as []*cfpb.Assignment
		for k := lo; k < min(lo+4096, done+leased); k++ {
			as = append(as, &cfpb.Assignment{SweepId: id, Shard: int32(k), Worker: fmt.Sprintf("w%d", k%4)})
		}
		var rs []*cfpb.ShardResult
		for _, g := range s.apply(t, &cfpb.Command{Cmd: &cfpb.Command_Assign{Assign: &cfpb.AssignShards{Assignments: as}}}).Granted {
			if int(g.Shard) >= done {
				continue
			}
			w := l.Shard(id, int(g.Shard))
			rs = append(rs, &cfpb.ShardResult{SweepId: id, Shard: g.Shard, Attempt: g.Attempt, LeaseId: g.LeaseId,
				Worker: fmt.Sprintf("w%d", g.Shard%4), Summary: summary(rng, int64(w.Count), 4)})
		}
		if len(rs) > 0 {
			s.apply(t, &cfpb.Command{Cmd: &cfpb.Command_Complete{Complete: &cfpb.CompleteShards{Results: rs}}})
		}
	}
	return id
}
