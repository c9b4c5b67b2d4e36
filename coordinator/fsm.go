package coordinator

import (
	"bufio"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// fsm adapts state.State to raft: log entries are protobuf Commands and
// snapshots are streams of length-delimited protobuf records.
type fsm struct {
	st *state.State
	// applied is called after each command with its response (metrics,
	// progress notifications); it must not block.
	applied func(*cfpb.Command, *state.Response)
	// pace, when set, spaces snapshots by the log written (snapshotpace.go).
	pace *snapshotPacer
}

// DecodeCommand parses one raft log entry.
func DecodeCommand(b []byte) (*cfpb.Command, error) {
	var c cfpb.Command
	if err := proto.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("coordinator: raft entry of %d bytes is not a command: %w", len(b), err)
	}
	if c.Cmd == nil {
		return nil, fmt.Errorf("coordinator: raft entry of %d bytes holds no command", len(b))
	}
	return &c, nil
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if f.pace != nil {
		f.pace.applied(len(l.Data))
	}
	c, err := DecodeCommand(l.Data)
	if err != nil {
		// Every replica sees the same bytes and skips them the same way.
		return &state.Response{Err: err}
	}
	r := f.st.Apply(c)
	if f.applied != nil {
		f.applied(c, r)
	}
	return r
}

// Snapshot copies the shard tables while Apply waits; Persist streams them
// to the sink while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{c: f.st.Capture(), pace: f.pace}, nil
}

// Restore reads a snapshot as a stream, never whole.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.st.Restore(rc); err != nil {
		return fmt.Errorf("coordinator: restore: %w", err)
	}
	return nil
}

type fsmSnapshot struct {
	c    *state.Capture
	pace *snapshotPacer
}

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 1<<20)
	n, err := s.c.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("coordinator: persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return err
	}
	if s.pace != nil {
		s.pace.persisted(n)
	}
	return nil
}

func (fsmSnapshot) Release() {}
