package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clipformer/clipformer/coordinator"
	"github.com/clipformer/clipformer/internal/report"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// compareSweep prints each setting's paired gain over the baseline for a
// cluster sweep. The coordinator serves per-trial aggregates, not
// per-shard results, so the pairs are over trials: with one trial there
// is no paired interval, and the note says so.
func compareSweep(ctx context.Context, stdout, stderr io.Writer, conn *clusterConn, id, baseline string, level float64) error {
	var sw *cfpb.Sweep
	var results []*cfpb.PointResult
	err := conn.call(ctx, coordinator.RetryUnavailable, func(ctx context.Context) (err error) {
		sw, results, err = fetchResults(ctx, cfpb.NewSweepsClient(conn), id)
		return err
	})
	if err != nil {
		return err
	}
	rows := report.Rows(sw.Id, sw.Spec, results)
	cmp, err := report.Compare(rows, report.TrialOutcomes(sw.Spec, results), baseline, level)
	if err != nil {
		return fmt.Errorf("results %s: %w", id, err)
	}
	fmt.Fprintf(stderr, "paired over complete trials (the coordinator serves per-trial results); for pairs over image blocks run the spec with `clipformer run` and compare with --from\n")
	return report.WriteCompare(stdout, cmp)
}

// compareRun prints the paired gains of a `clipformer run` output folder,
// over its per-shard results (image blocks and trials).
func compareRun(stdout io.Writer, dir, baseline string, level float64) error {
	rowsPath, shardsPath := filepath.Join(dir, "results.csv"), filepath.Join(dir, "shards.csv")
	f, err := os.Open(rowsPath)
	if err != nil {
		return fmt.Errorf("results --from: %w", err)
	}
	defer f.Close()
	rows, err := report.ReadCSV(f, rowsPath)
	if err != nil {
		return err
	}
	g, err := os.Open(shardsPath)
	if err != nil {
		return fmt.Errorf("results --from: %w (runs before per-shard results were written have none: run the spec again)", err)
	}
	defer g.Close()
	outcomes, err := report.ReadShards(g, shardsPath)
	if err != nil {
		return err
	}
	cmp, err := report.Compare(rows, outcomes, baseline, level)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return report.WriteCompare(stdout, cmp)
}
