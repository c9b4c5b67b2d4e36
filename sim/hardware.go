package sim

import (
	"fmt"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

// MatrixCount is the crossbar footprint of one kind of stored matrix.
type MatrixCount struct {
	Name      string `json:"name"`      // e.g. "blocks.*.attn.qkv", "K^T", "V"
	Place     string `json:"place"`     // its crossbar place (crossbar.PlaceQKV ...)
	Rows      int    `json:"rows"`      // stored rows R (inputs)
	Cols      int    `json:"cols"`      // stored columns C (outputs)
	Slices    int    `json:"slices"`    // bit slices per value
	RowTiles  int    `json:"row_tiles"` // ceil(R / crossbar rows)
	ColTiles  int    `json:"col_tiles"` // ceil(C * slices * 2 / crossbar columns)
	Instances int    `json:"instances"` // how many such matrices the model holds (per image for K/V)
	// Conversions is the ADC conversions per image for all instances:
	// input bits x input passes x row tiles x C x slices per input vector.
	Conversions int64 `json:"conversions"`
	// BitCycles is the input-bit cycles per image over all instances: each
	// drives every row of the matrix and reads all its cells once.
	BitCycles int64 `json:"bit_cycles"`
}

// RowDrives is the wordline (DAC) activations per image: every row of every
// column tile, each bit cycle.
func (m MatrixCount) RowDrives() int64 { return m.BitCycles * int64(m.Rows) * int64(m.ColTiles) }

// CellReads is the cell accesses per image: every cell (both polarities,
// all slices) each bit cycle.
func (m MatrixCount) CellReads() int64 {
	return m.BitCycles * int64(m.Rows) * int64(m.Cols) * int64(m.Slices) * 2
}

// Crossbars is RowTiles x ColTiles x Instances.
func (m MatrixCount) Crossbars() int { return m.RowTiles * m.ColTiles * m.Instances }

// Hardware holds the hardware counts of a model under a profile and a K/V
// transform, with the untransformed baseline beside them.
type Hardware struct {
	Matrices []MatrixCount `json:"matrices"`
	// Baseline holds the K^T and V matrices without ClipFormer (the static
	// linears are the same in both).
	Baseline         []MatrixCount `json:"baseline,omitempty"`
	KVSlices         int           `json:"kv_slices"`              // slices K and V need: the digits of the largest possible code
	KVSlicesBaseline int           `json:"kv_slices_baseline"`     // the same without ClipFormer
	StaticCrossbars  int           `json:"static_crossbars"`       // crossbars holding static weights
	KVCrossbars      int           `json:"kv_crossbars"`           // crossbars written with K^T and V, per image
	KVCrossbarsBase  int           `json:"kv_crossbars_baseline"`  // the same without ClipFormer
	CellsWritten     int64         `json:"cells_written"`          // cells written per image (K^T and V, both polarities)
	CellsWrittenBase int64         `json:"cells_written_baseline"` // the same without ClipFormer
	Conversions      int64         `json:"conversions"`            // ADC conversions per image, all crossbar products
	ConversionsBase  int64         `json:"conversions_baseline"`   // the same without ClipFormer
}

// HardwareCounts computes spec section 8's counts. Inputs are streamed
// bit-serially with a second pass for negative parts, except the softmax
// output A, which is non-negative.
func HardwareCounts(c vit.Config, p crossbar.Profile, clip crossbar.ClipFormer) Hardware {
	return HardwareCountsPruned(c, p, clip, nil)
}

// HardwareCountsPruned is HardwareCounts for a model whose tokens are pruned:
// K^T and V shrink with the tokens each block's attention sees (one matrix
// entry per distinct token count), and every linear converts only the tokens
// that reach it.
func HardwareCountsPruned(c vit.Config, p crossbar.Profile, clip crossbar.ClipFormer, prune *vit.Pruning) Hardware {
	h := Hardware{
		KVSlices:         p.SlicesFor(clip.MaxCode(&p)),
		KVSlicesBaseline: p.SlicesFor(crossbar.ClipFormer{}.MaxCode(&p)),
	}
	full := p.Slices()
	n, d, hd := c.Tokens(), c.Dim, c.HeadDim()
	attnTokens := prune.TokensPerBlock(&c) // tokens at each block's attention
	mlpTokens := make([]int, c.Depth)      // tokens after each block's pruning
	for b := range mlpTokens {
		if b+1 < c.Depth {
			mlpTokens[b] = attnTokens[b+1]
		} else {
			mlpTokens[b] = prune.TokensAfter(&c)
		}
	}
	sumTokens := func(t []int) int {
		s := 0
		for _, v := range t {
			s += v
		}
		return s
	}
	add := func(name, place string, r, cols, slices, instances, vectors, passes int) MatrixCount {
		rt, ct := p.Tiles(r, cols, slices)
		m := MatrixCount{Name: name, Place: place, Rows: r, Cols: cols, Slices: slices, RowTiles: rt, ColTiles: ct, Instances: instances}
		m.Conversions = int64(p.InputBits) * int64(passes) * int64(rt) * int64(cols) * int64(slices) * int64(vectors) * int64(instances)
		m.BitCycles = int64(p.InputBits) * int64(passes) * int64(vectors) * int64(instances)
		return m
	}
	type lin struct {
		place, name string
		in, out     int
		vectors     int // input vectors per image, over all instances
		instances   int
	}
	lins := []lin{
		{crossbar.PlacePatchEmbed, "patch_embed.proj", c.PatchInputs(), d, c.Patches(), 1},
		{crossbar.PlaceQKV, "blocks.*.attn.qkv", d, 3 * d, sumTokens(attnTokens), c.Depth},
		{crossbar.PlaceProj, "blocks.*.attn.proj", d, d, sumTokens(attnTokens), c.Depth},
		{crossbar.PlaceFC1, "blocks.*.mlp.fc1", d, c.MLPHidden, sumTokens(mlpTokens), c.Depth},
		{crossbar.PlaceFC2, "blocks.*.mlp.fc2", c.MLPHidden, d, sumTokens(mlpTokens), c.Depth},
		{crossbar.PlaceHead, "head", d, c.Classes, c.PrefixTokens(), c.PrefixTokens()},
	}
	if c.AuxHead {
		// LV-ViT's aux_head reads every patch token that survives pruning.
		lins = append(lins, lin{crossbar.PlaceHead, "aux_head", d, c.Classes, prune.TokensAfter(&c) - c.PrefixTokens(), 1})
	}
	for _, l := range lins {
		if !p.On(l.place) {
			continue
		}
		m := add(l.name, l.place, l.in, l.out, full, l.instances, 0, 2)
		m.Conversions = int64(p.InputBits) * 2 * int64(m.RowTiles) * int64(l.out) * int64(full) * int64(l.vectors)
		m.BitCycles = int64(p.InputBits) * 2 * int64(l.vectors)
		h.Matrices = append(h.Matrices, m)
		h.StaticCrossbars += m.Crossbars()
		h.Conversions += m.Conversions
		h.ConversionsBase += m.Conversions
	}
	// K^T and V per distinct token count, in block order.
	var counts []int
	blocksWith := map[int]int{}
	for _, t := range attnTokens {
		if blocksWith[t] == 0 {
			counts = append(counts, t)
		}
		blocksWith[t]++
	}
	for _, t := range counts {
		kv := []struct {
			place, name string
			r, cols     int
			passes      int
		}{
			{crossbar.PlaceQK, "K^T (per head)", hd, t, 2},
			{crossbar.PlaceAV, "V (per head)", t, hd, 1},
		}
		for _, k := range kv {
			if !p.On(k.place) {
				continue
			}
			name := k.name
			if t != n {
				name = fmt.Sprintf("%s, %d tokens", k.name, t)
			}
			inst := blocksWith[t] * c.Heads
			m := add(name, k.place, k.r, k.cols, h.KVSlices, inst, t, k.passes)
			base := add(name, k.place, k.r, k.cols, h.KVSlicesBaseline, inst, t, k.passes)
			h.Baseline = append(h.Baseline, base)
			h.Matrices = append(h.Matrices, m)
			h.KVCrossbars += m.Crossbars()
			h.KVCrossbarsBase += base.Crossbars()
			h.CellsWritten += int64(k.r*k.cols*h.KVSlices*2) * int64(inst)
			h.CellsWrittenBase += int64(k.r*k.cols*h.KVSlicesBaseline*2) * int64(inst)
			h.Conversions += m.Conversions
			h.ConversionsBase += base.Conversions
		}
	}
	return h
}

// String is a short human-readable summary.
func (h Hardware) String() string {
	return fmt.Sprintf("K/V slices %d (baseline %d); crossbars: %d static + %d K/V per image (baseline %d); cells written per image %d (baseline %d); ADC conversions per image %d (baseline %d)",
		h.KVSlices, h.KVSlicesBaseline, h.StaticCrossbars, h.KVCrossbars, h.KVCrossbarsBase, h.CellsWritten, h.CellsWrittenBase, h.Conversions, h.ConversionsBase)
}
