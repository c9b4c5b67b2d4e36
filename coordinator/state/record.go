package state

import "github.com/clipformer/clipformer/proto/cfpb"

// sum128 is one exact 128-bit fixed-point sum, cfpb.Sum128's numbers
// without a message around them.
type sum128 struct{ hi, lo uint64 }

// record is a done shard's result as the state holds it. A ShardResult
// keeps a message per sum: about 2 KB for a 12-block summary, where a
// record takes about 500 bytes, which is what lets a coordinator hold a
// million done shards in well under a gigabyte. Apply never changes a
// record once made, so snapshots share them.
type record struct {
	leaseID                     uint64
	durationNs, images, correct int64
	attempt                     int32
	worker, simVersion          string
	calibration                 string // the summary's calibration set
	// sums holds the signal sums, then as many noise sums (CheckSummary
	// refuses a summary whose two lists differ in length).
	sums []sum128
}

func newRecord(res *cfpb.ShardResult, intern func(string) string) *record {
	s := res.Summary
	r := &record{leaseID: res.LeaseId, durationNs: res.DurationNs, images: s.Images, correct: s.Correct, attempt: res.Attempt,
		worker: intern(res.Worker), simVersion: intern(res.SimVersion), calibration: intern(s.Calibration), sums: make([]sum128, 0, len(s.Signal)+len(s.Noise))}
	for _, v := range s.Signal {
		r.sums = append(r.sums, sum128{v.GetHi(), v.GetLo()})
	}
	for _, v := range s.Noise {
		r.sums = append(r.sums, sum128{v.GetHi(), v.GetLo()})
	}
	return r
}

func (r *record) blocks() int { return len(r.sums) / 2 }

// summaryInto fills dst with the record's summary, reusing dst's sums.
func (r *record) summaryInto(dst *cfpb.Summary) {
	dst.Images, dst.Correct, dst.Calibration = r.images, r.correct, r.calibration
	dst.Signal = fillSums(dst.Signal, r.sums[:r.blocks()])
	dst.Noise = fillSums(dst.Noise, r.sums[r.blocks():])
}

func fillSums(dst []*cfpb.Sum128, src []sum128) []*cfpb.Sum128 {
	for len(dst) < len(src) {
		dst = append(dst, &cfpb.Sum128{})
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i].Hi, dst[i].Lo = v.hi, v.lo
	}
	return dst
}

// fill sets every field of dst, reusing its summary.
func (r *record) fill(dst *cfpb.ShardResult, sweepID string, k int) {
	sum := dst.Summary
	if sum == nil {
		sum = &cfpb.Summary{}
	}
	r.summaryInto(sum)
	*dst = cfpb.ShardResult{SweepId: sweepID, Shard: int32(k), Attempt: r.attempt, LeaseId: r.leaseID, Worker: r.worker,
		Summary: sum, DurationNs: r.durationNs, SimVersion: r.simVersion}
}

// sameSummary reports whether s holds exactly the record's numbers.
func (r *record) sameSummary(s *cfpb.Summary) bool {
	if s.Images != r.images || s.Correct != r.correct || len(s.Signal) != r.blocks() || len(s.Noise) != r.blocks() {
		return false
	}
	for i, v := range s.Signal {
		if (sum128{v.GetHi(), v.GetLo()}) != r.sums[i] {
			return false
		}
	}
	for i, v := range s.Noise {
		if (sum128{v.GetHi(), v.GetLo()}) != r.sums[r.blocks()+i] {
			return false
		}
	}
	return true
}

// maxInterned bounds the intern table: worker ids and simulator versions
// are few; past the bound strings are simply kept as they come.
const maxInterned = 4096

// intern returns one shared copy of str, so that a million results from
// a few workers hold a few strings.
func (s *State) intern(str string) string {
	if v, ok := s.strs[str]; ok {
		return v
	}
	if len(s.strs) < maxInterned {
		s.strs[str] = str
	}
	return str
}
