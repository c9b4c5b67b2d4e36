package worker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/filehash"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

func testSpec(t *testing.T, model, sha string) *cfpb.SweepSpec {
	t.Helper()
	s, err := sweep.Parse("t.yaml", []byte("model: {path: "+model+", sha256: '"+sha+"'}\ndataset: {kind: mnist, limit: 16}\ngrid: {gamma: [2], clip: [{alpha: 2, beta: 0.25}]}\nimages_per_shard: 8\nprofile: {calibration_images: 8}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const bundled = "../models/vit-mnist.safetensors"

func TestExecutorChecksTheModelChecksum(t *testing.T) {
	sum, err := filehash.SHA256(bundled)
	if err != nil {
		t.Fatal(err)
	}
	e := &Executor{Threads: 1}
	l, _ := sweep.NewLayout(testSpec(t, bundled, sum))
	w := l.Shard("s", 0)
	if _, err := e.Run(context.Background(), testSpec(t, bundled, sum), w, nil); err != nil {
		t.Fatalf("matching checksum refused: %v", err)
	}
	wrong := strings.Repeat("0", 64)
	_, err = e.Run(context.Background(), testSpec(t, bundled, wrong), w, nil)
	if !errors.Is(err, ErrLocal) || !strings.Contains(err.Error(), "the sweep names "+wrong) || !strings.Contains(err.Error(), sum) {
		t.Fatalf("wrong checksum: %v", err)
	}
	_, err = e.Run(context.Background(), testSpec(t, bundled, ""), w, nil)
	if !errors.Is(err, ErrLocal) || !strings.Contains(err.Error(), "no sha256") {
		t.Fatalf("missing checksum in cluster mode: %v", err)
	}
	_, err = e.Run(context.Background(), testSpec(t, "nowhere.safetensors", wrong), w, nil)
	if !errors.Is(err, ErrLocal) || !strings.Contains(err.Error(), "nowhere.safetensors") {
		t.Fatalf("missing model: %v", err)
	}
}

func TestExecutorShardsAddUpToOneRun(t *testing.T) {
	e := &Executor{Threads: 2, AllowUnchecked: true}
	spec := testSpec(t, bundled, "")
	l, _ := sweep.NewLayout(spec)
	whole, err := e.Run(context.Background(), spec, &cfpb.ShardWork{Count: 16, Point: l.Points[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Run(context.Background(), spec, l.Shard("s", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Run(context.Background(), spec, l.Shard("s", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := sweep.Merge(a, b)
	if m.Images != 16 || m.Correct != whole.Correct || len(m.Signal) != len(whole.Signal) {
		t.Fatalf("merged %v, whole %v", m, whole)
	}
	for i := range m.Signal {
		if m.Signal[i].Hi != whole.Signal[i].Hi || m.Signal[i].Lo != whole.Signal[i].Lo || m.Noise[i].Lo != whole.Noise[i].Lo {
			t.Fatalf("block %d sums differ", i)
		}
	}
	// Images beyond the data set are a local error naming it.
	_, err = e.Run(context.Background(), spec, &cfpb.ShardWork{Start: 9995, Count: 10, Point: l.Points[0]}, nil)
	if !errors.Is(err, ErrLocal) || !strings.Contains(err.Error(), "10000 images") {
		t.Fatalf("out of range: %v", err)
	}
}
