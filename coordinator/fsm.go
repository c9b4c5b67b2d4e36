package coordinator

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/coordinator/state"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// fsm adapts state.State to raft: log entries are protobuf Commands and
// snapshots are protobuf Snapshots.
type fsm struct {
	st *state.State
	// applied is called after each command with its response (metrics,
	// progress notifications); it must not block.
	applied func(*cfpb.Command, *state.Response)
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

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	b, err := proto.Marshal(f.st.Snapshot())
	if err != nil {
		return nil, err
	}
	return snapshotBytes(b), nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("coordinator: read snapshot: %w", err)
	}
	var snap cfpb.Snapshot
	if err := proto.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("coordinator: snapshot of %d bytes does not decode: %w", len(b), err)
	}
	return f.st.Restore(&snap)
}

type snapshotBytes []byte

func (s snapshotBytes) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshotBytes) Release() {}
