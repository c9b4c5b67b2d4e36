package coordinator

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// handlerCapture is a transport that only records its heartbeat handler.
type handlerCapture struct {
	raft.Transport
	fn func(raft.RPC)
}

func (h *handlerCapture) SetHeartbeatHandler(fn func(raft.RPC)) { h.fn = fn }

func TestHeartbeatGateWaitsForInFlightHeartbeatsAndRefusesLaterOnes(t *testing.T) {
	inner := &handlerCapture{}
	_, gate := gateHeartbeats(inner)
	entered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	gate.SetHeartbeatHandler(func(raft.RPC) {
		calls++
		close(entered)
		<-release
	})
	go inner.fn(raft.RPC{RespChan: make(chan raft.RPCResponse, 1)})
	<-entered

	closed := make(chan struct{})
	go func() { gate.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a heartbeat was still being handled")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed

	resp := make(chan raft.RPCResponse, 1)
	inner.fn(raft.RPC{RespChan: resp})
	if calls != 1 {
		t.Fatalf("handler ran %d times, want 1 (none after close)", calls)
	}
	if r := <-resp; !errors.Is(r.Error, raft.ErrRaftShutdown) {
		t.Fatalf("heartbeat after close answered %v, want ErrRaftShutdown", r.Error)
	}
}

func TestHeartbeatGateKeepsPreVote(t *testing.T) {
	_, inmem := raft.NewInmemTransport("")
	wrapped, _ := gateHeartbeats(inmem)
	if _, ok := wrapped.(raft.WithPreVote); !ok {
		t.Fatal("gated in-memory transport lost pre-vote support")
	}
	if _, ok := wrapped.(raft.WithClose); !ok {
		t.Fatal("gated transport lost Close")
	}
}
