package local

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/internal/simtest"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/worker"
)

// A run computes only trial 0 of its gamma 0 point (no read or
// programming noise: every trial gives the same bits) and copies it to the
// other trials: the workers evaluate fewer images, and results.csv is the
// same, byte for byte, as a run that computes every trial.
func TestRunCopiesTrialZeroOfDeterministicPoints(t *testing.T) {
	model := simtest.RGBModel(t, 2, 5)
	images := simtest.ImageFolder(t, filepath.Join(t.TempDir(), "imgs"), 2, 2, 0)
	spec, err := sweep.Parse("s.yaml", []byte("model: {path: "+model+"}\ndataset: {kind: folder, path: "+images+", limit: 4}\n"+
		"grid: {gamma: [0, 1]}\ntrials: 3\nimages_per_shard: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		evaluated     int64
		csv           []byte
		copies, rows  int
		sweepProgress *cfpb.Progress
	}
	run := func(everyTrial bool) outcome {
		exec := &worker.Executor{AllowUnchecked: true, Threads: 1}
		if err := CheckInputs(spec, exec); err != nil {
			t.Fatal(err)
		}
		var evaluated atomic.Int64
		count := func(ctx context.Context, s *cfpb.SweepSpec, w *cfpb.ShardWork, progress func(int)) (*cfpb.Summary, error) {
			evaluated.Add(int64(w.Count))
			return exec.Run(ctx, s, w, progress)
		}
		var o outcome
		sw, res, err := Run(context.Background(), spec, Options{Workers: 2, Run: count, ComputeEveryTrial: everyTrial,
			Shard: func(_ int, _ *cfpb.Summary, copy bool) {
				o.rows++
				if copy {
					o.copies++
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		// The sweep id differs from run to run; the rest must not.
		if err := report.WriteCSV(&b, report.Rows("sweep", spec, res)); err != nil {
			t.Fatal(err)
		}
		o.evaluated, o.csv, o.sweepProgress = evaluated.Load(), b.Bytes(), sw.Progress
		return o
	}
	every, copied := run(true), run(false)
	if !bytes.Equal(every.csv, copied.csv) {
		t.Fatalf("results.csv differs:\ncomputing every trial:\n%s\ncopying:\n%s", every.csv, copied.csv)
	}
	// 2 points x 3 trials x 4 images; gamma 0's trials 1 and 2 are copies.
	if every.evaluated != 24 || copied.evaluated != 16 {
		t.Fatalf("images evaluated: %d computing every trial, %d copying; want 24 and 16", every.evaluated, copied.evaluated)
	}
	if every.rows != 12 || every.copies != 0 || copied.rows != 12 || copied.copies != 4 {
		t.Fatalf("done shards (copies): %d (%d) computing every trial, %d (%d) copying; want 12 (0) and 12 (4)",
			every.rows, every.copies, copied.rows, copied.copies)
	}
	if p := copied.sweepProgress; p.Done != 12 || p.Copied != 4 || p.ImagesDone != 16 || p.ImagesCopied != 8 {
		t.Fatalf("progress %v", p)
	}
}
