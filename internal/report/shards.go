package report

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/clipformer/clipformer/internal/paired"
	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// ShardRow is one done shard's outcome: the per-shard results that paired
// comparisons need and the per-point rows merge away. Block is the shard's
// image range (Start / images per shard). Copy marks a copy of trial 0's
// shard of the same point and block, recorded without being computed
// because the point's trials all give the same bits.
type ShardRow struct {
	Point, Trial, Block, Start int
	Images, Correct            int64
	Copy                       bool
}

// shardHeader is shards.csv's header; files written before copies lack the
// last column.
var shardHeader = []string{"point", "trial", "block", "start", "images", "correct", "copy"}

// ShardOf places shard k's summary in the layout.
func ShardOf(l *sweep.Layout, k int, s *cfpb.Summary, copy bool) ShardRow {
	pt, u := l.Unit(k)
	return ShardRow{Point: pt, Trial: u.Trial, Block: u.Block, Start: u.Block * l.Chunk,
		Images: s.GetImages(), Correct: s.GetCorrect(), Copy: copy}
}

// WriteShards writes shard rows as CSV (shards.csv of `clipformer run`),
// in point, trial, block order.
func WriteShards(w io.Writer, rows []ShardRow) error {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b ShardRow) int {
		return cmp.Or(cmp.Compare(a.Point, b.Point), cmp.Compare(a.Trial, b.Trial), cmp.Compare(a.Block, b.Block))
	})
	cw := csv.NewWriter(w)
	cw.Write(shardHeader)
	for _, r := range rows {
		copy := "0"
		if r.Copy {
			copy = "1"
		}
		cw.Write([]string{strconv.Itoa(r.Point), strconv.Itoa(r.Trial), strconv.Itoa(r.Block), strconv.Itoa(r.Start),
			strconv.FormatInt(r.Images, 10), strconv.FormatInt(r.Correct, 10), copy})
	}
	cw.Flush()
	return cw.Error()
}

// ReadShards reads WriteShards' CSV into per-point outcomes; name labels
// errors, which give the line and the column.
func ReadShards(r io.Reader, name string) (map[int]paired.Outcomes, error) {
	records, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(records) == 0 || fmt.Sprint(records[0]) != fmt.Sprint(shardHeader) && fmt.Sprint(records[0]) != fmt.Sprint(shardHeader[:6]) {
		return nil, fmt.Errorf("%s: the header is not %v: not a shards CSV", name, shardHeader)
	}
	out := map[int]paired.Outcomes{}
	for li, rec := range records[1:] {
		var v [6]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(rec[i], 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: column %s: %q is not an integer", name, li+2, shardHeader[i], rec[i])
			}
		}
		p := int(v[0])
		if out[p] == nil {
			out[p] = paired.Outcomes{}
		}
		if err := out[p].Add(paired.Unit{Trial: int(v[1]), Block: int(v[2])}, paired.Count{Images: v[4], Correct: v[5]}); err != nil {
			return nil, fmt.Errorf("%s:%d: point %d: %w", name, li+2, p, err)
		}
	}
	return out, nil
}

// TrialOutcomes are the per-point outcomes that a sweep's aggregated
// results still hold: one unit per complete trial (block 0 standing for
// the whole image set). Pairs over them count trials, not images.
func TrialOutcomes(spec *cfpb.SweepSpec, results []*cfpb.PointResult) map[int]paired.Outcomes {
	full := 0
	if l, err := sweep.NewLayout(spec); err == nil {
		full = l.Images
	}
	out := map[int]paired.Outcomes{}
	for _, pr := range results {
		o := paired.Outcomes{}
		for t, s := range pr.Trials {
			if full > 0 && s.Images == int64(full) {
				o[paired.Unit{Trial: t}] = paired.Count{Images: s.Images, Correct: s.Correct}
			}
		}
		out[int(pr.Point.GetIndex())] = o
	}
	return out
}
