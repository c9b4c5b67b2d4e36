package ui

import (
	"context"
	"errors"
	"time"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Source is where the dashboard reads a cluster's state and sends its
// actions. A coordinator node implements it over its API handlers and its
// replica (a follower forwards to the leader or reads its own replica);
// `clipformer run` implements it over its in-process node.
type Source interface {
	// Sweeps lists every sweep, newest first, with the leader's live
	// figures (shards per second, ETA).
	Sweeps(ctx context.Context) ([]*cfpb.Sweep, error)
	// Sweep describes one sweep with its live figures.
	Sweep(ctx context.Context, id string) (*cfpb.Sweep, error)
	// Results aggregates a sweep's done shards per grid point, in grid
	// order, as `clipformer results` receives them.
	Results(ctx context.Context, id string) ([]*cfpb.PointResult, error)
	// Shards lists a sweep's shards in shard order.
	Shards(ctx context.Context, id string) ([]Shard, error)
	// Cluster describes the coordinators and workers.
	Cluster(ctx context.Context) (*Cluster, error)
	// Act changes a sweep on behalf of caller, with the checks the same
	// gRPC call of that caller gets (its owner or an admin).
	Act(ctx context.Context, caller Caller, action Action, id string) error
	// Changed returns a channel that is closed at the next change of the
	// state.
	Changed() <-chan struct{}
}

// Caller is an authenticated user of the dashboard: a role and a name from
// a cluster certificate. On loopback without a token the dashboard acts
// as LoopbackCaller.
type Caller struct {
	Role, Name string
}

// LoopbackCaller is who a request on a loopback dashboard without a
// session is: an admin, as a shell on the machine is.
var LoopbackCaller = Caller{Role: RoleAdmin, Name: "loopback"}

// Roles a dashboard user may have (package certs names them).
const (
	RoleClient = "client"
	RoleAdmin  = "admin"
)

// Action is a change the dashboard can make to a sweep.
type Action string

// The actions, named as the CLI's sub-commands.
const (
	ActionPause  Action = "pause"
	ActionResume Action = "resume"
	ActionCancel Action = "cancel"
	ActionDelete Action = "delete"
)

// actionRoles is the role each action needs at the dashboard, as
// coordinator/auth.go's methodRoles has it for the RPC of the same name;
// the coordinator then checks the sweep's owner.
var actionRoles = map[Action][]string{
	ActionPause:  {RoleClient, RoleAdmin},
	ActionResume: {RoleClient, RoleAdmin},
	ActionCancel: {RoleClient, RoleAdmin},
	// Admins only: stricter than the CLI, which lets an owner delete,
	// because a stray click must not lose results.
	ActionDelete: {RoleAdmin},
}

// readRoles may see every read view.
var readRoles = []string{RoleClient, RoleAdmin}

// ErrNotFound is what a Source returns for an unknown sweep.
var ErrNotFound = errors.New("ui: no such sweep")

// Shard is what the shard map shows of one shard.
type Shard struct {
	State cfpb.ShardState
	// Attempt counts its leases; Failures those that counted as failed.
	Attempt, Failures int32
	Worker, LastError string
}

// Cluster is the cluster view: coordinators and workers.
type Cluster struct {
	LeaderID     string
	Coordinators []Coordinator
	Workers      []Worker
}

// Coordinator is one raft server as the cluster view shows it.
type Coordinator struct {
	ID, RaftAddress, APIAddress string
	// Suffrage: voter, nonvoter or staging.
	Suffrage string
	// RaftState: Leader, Follower, Candidate; "" when it did not answer.
	RaftState                       string
	Term, CommitIndex, AppliedIndex uint64
	// Err says why the figures are missing.
	Err string
}

// Worker is one registered worker.
type Worker struct {
	ID, Version string
	Slots       int32
	Connected   bool
	Draining    bool
	// Running counts its leased shards.
	Running         int32
	ShardsDone      int64
	ImagesPerSecond float64
	LastHeartbeat   time.Time
}

// Errors a Source returns besides ErrNotFound, for the HTTP status.
var (
	// ErrForbidden: the cluster refused the caller (not the owner).
	ErrForbidden = errors.New("ui: not allowed")
	// ErrRefused: the sweep's state does not allow it (delete a running
	// sweep).
	ErrRefused = errors.New("ui: refused")
	// ErrUnavailable: no leader right now; try again.
	ErrUnavailable = errors.New("ui: cluster unavailable")
)
