package ui

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"math"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Shard categories of the shard map, in the order of its legend.
const (
	catDone = iota
	catRunning
	catRetrying
	catFailed
	catPending
	catCancelled
	nCats
)

var catNames = [nCats]string{"done", "running", "retrying", "failed", "pending", "cancelled"}

// catColours are Okabe and Ito's, as the plots': done green, running blue,
// retrying orange, failed vermilion, pending and cancelled greys.
var catColours = [nCats]color.RGBA{
	{0, 158, 115, 255}, {0, 114, 178, 255}, {230, 159, 0, 255}, {213, 94, 0, 255}, {215, 215, 215, 255}, {130, 130, 130, 255},
}

// category places a shard in the shard map: a pending shard that was
// leased before is retrying.
func category(sh *Shard) int {
	switch sh.State {
	case cfpb.ShardState_SHARD_STATE_DONE:
		return catDone
	case cfpb.ShardState_SHARD_STATE_LEASED:
		return catRunning
	case cfpb.ShardState_SHARD_STATE_FAILED:
		return catFailed
	case cfpb.ShardState_SHARD_STATE_CANCELLED:
		return catCancelled
	}
	if sh.Attempt > 0 {
		return catRetrying
	}
	return catPending
}

// shardMap is the shard section of a sweep's page: counts per category,
// and the shards worth naming (failed and retrying ones with their errors).
type shardMap struct {
	Counts  []catCount
	Total   int
	Failed  []shardLine
	Retries []shardLine
	// More counts the failed and retrying shards not listed.
	MoreFailed, MoreRetries int
	// Hash identifies the map's picture: it changes when a shard changes
	// category, and only then, so that the image is fetched again only
	// when it differs.
	Hash uint64
}

type catCount struct {
	Name, Colour string
	N            int
}

type shardLine struct {
	Index             int32
	Attempt, Failures int32
	Worker, Error     string
}

// maxListed bounds the shards a page names.
const maxListed = 20

func newShardMap(shards []Shard) shardMap {
	var n [nCats]int
	m := shardMap{Total: len(shards)}
	h := fnv.New64a()
	for k := range shards {
		sh := &shards[k]
		c := category(sh)
		n[c]++
		h.Write([]byte{byte(c)})
		line := shardLine{Index: int32(k), Attempt: sh.Attempt, Failures: sh.Failures, Worker: sh.Worker, Error: sh.LastError}
		switch {
		case c == catFailed && len(m.Failed) < maxListed:
			m.Failed = append(m.Failed, line)
		case c == catFailed:
			m.MoreFailed++
		case c == catRetrying && len(m.Retries) < maxListed:
			m.Retries = append(m.Retries, line)
		case c == catRetrying:
			m.MoreRetries++
		}
	}
	m.Hash = h.Sum64()
	for c := range nCats {
		col := catColours[c]
		m.Counts = append(m.Counts, catCount{Name: catNames[c], Colour: fmt.Sprintf("#%02x%02x%02x", col.R, col.G, col.B), N: n[c]})
	}
	return m
}

// shardPNG draws one cell per shard, row by row, in a near-square image of
// at most about 640 pixels across: for a million shards one pixel each.
func shardPNG(shards []Shard) ([]byte, error) {
	n := max(len(shards), 1)
	cell := max(1, min(16, int(math.Sqrt(160000/float64(n)))))
	cols := max(1, min(n, 640/cell))
	rows := (n + cols - 1) / cols
	pal := color.Palette{color.RGBA{255, 255, 255, 0}}
	for _, c := range catColours {
		pal = append(pal, c)
	}
	img := image.NewPaletted(image.Rect(0, 0, cols*cell, rows*cell), pal)
	gap := 0
	if cell >= 4 {
		gap = 1 // cells stay apart when they are large enough to see
	}
	for k := range shards {
		x0, y0 := (k%cols)*cell, (k/cols)*cell
		idx := uint8(category(&shards[k]) + 1)
		for y := y0; y < y0+cell-gap; y++ {
			row := img.Pix[y*img.Stride:]
			for x := x0; x < x0+cell-gap; x++ {
				row[x] = idx
			}
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
