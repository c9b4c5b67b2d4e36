package sim

import (
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// blockSNR holds one image's attention-core energy sums for one block.
type blockSNR struct{ signal, noise float64 }

// xbarOps is vit.Ops on crossbars; one per goroutine.
type xbarOps struct {
	s      *Setting
	mp     *Mapped
	codec  *crossbar.Codec
	kv     *KVScales
	gs     float64 // gamma * sigma_w
	batch  []int   // dataset indices of the images in the current batch
	snr    [][]blockSNR
	stream *keyrand.Stream
	// normals and eps: the read-noise draws with vectorNormals.
	normals *keyrand.Normals
	eps     []float32

	xq, x2, nv             []float32 // quantised inputs, their squares, noise variances
	eff, q                 []float32 // a written K^T or V: effective values, read-noise variances
	ref, scores, refScores []float32 // attention scratch
	y64                    []float64
	mvm                    crossbar.Scratch // the reference path's buffers
	ints                   intScratch       // the exact integer products' buffers
	bf                     bf16Scratch      // the bfloat16 variance products' buffers
}

// bf16Scratch holds the buffers of the bfloat16 variance products.
type bf16Scratch struct {
	x2     []uint16 // squared inputs, rows x KPad
	q      linalg.PackedBF16
	kernel linalg.BF16Scratch
}

// variancesBF16 sets nv (rows x q.N) to (x^2) q in bfloat16, where x holds
// the quantised inputs (rows x q.K).
func (o *xbarOps) variancesBF16(nv, x []float32, rows int, q *linalg.PackedBF16) {
	sc := &o.bf
	if n := rows * q.KPad; cap(sc.x2) < n {
		sc.x2 = make([]uint16, n)
	} else {
		sc.x2 = sc.x2[:n]
	}
	linalg.SquaresBF16(sc.x2, q.KPad, x, q.K, rows, q.K, q.KPad)
	linalg.MatMulBF16(rows, sc.x2, q.KPad, q, nv, q.N, &sc.kernel)
}

func newXbarOps(s *Setting, mp *Mapped, kv *KVScales) *xbarOps {
	return &xbarOps{s: s, mp: mp, codec: mp.codec, kv: kv, gs: s.Gamma * s.Profile.EffectiveSigmaW(),
		stream: keyrand.New(keyrand.Key{})}
}

// begin prepares for a batch of images.
func (o *xbarOps) begin(batch []int, depth int) {
	o.batch = batch
	for len(o.snr) < len(batch) {
		o.snr = append(o.snr, make([]blockSNR, depth))
	}
	for i := range batch {
		clear(o.snr[i])
	}
}

func (o *xbarOps) key(image, block, head, sub int, kind keyrand.Kind) keyrand.Key {
	return keyrand.Key{Seed: o.s.Seed, Trial: o.s.Trial, Image: image, Layer: block, Head: head, Sub: sub, Kind: kind}
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Linear implements vit.Ops.
func (o *xbarOps) Linear(id vit.LinearID, l *vit.Linear, dst, x []float32, rows int) {
	ml := o.mp.linear[id]
	if ml == nil {
		vit.DigitalLinear(l, dst, x, rows)
		return
	}
	perImage := rows / len(o.batch)
	sigmaR := o.s.Profile.SigmaR
	if ml.arr != nil {
		o.y64 = growF64(o.y64, l.Out)
		for b, img := range o.batch {
			o.stream.Reset(o.key(img, id.Block, -1, int(id.Kind), keyrand.ReadLinear))
			for r := b * perImage; r < (b+1)*perImage; r++ {
				ml.arr.MVM(o.y64, x[r*l.In:(r+1)*l.In], sigmaR, o.stream, &o.mvm)
				out := dst[r*l.Out : (r+1)*l.Out]
				for j, v := range o.y64[:l.Out] {
					out[j] = float32(v)
				}
			}
		}
		linalg.AddBias(dst, rows, l.Out, l.B)
		return
	}
	if ml.codes != nil {
		o.linearInt(id, ml, l, dst, x, rows)
		return
	}
	o.xq = growF(o.xq, rows*l.In)
	o.codec.QuantizeRows(o.xq, x, rows, l.In)
	linalg.MatMul(rows, l.Out, l.In, o.xq, l.In, ml.eff, l.Out, dst, l.Out, false)
	if ml.q != nil || ml.qbf != nil {
		o.addLinearReadNoise(id, ml, l, dst, rows)
	}
	linalg.AddBias(dst, rows, l.Out, l.B)
}

// addLinearReadNoise adds a linear's read noise to dst, from the quantised
// inputs in o.xq: sigma_r sqrt((x_q^2) Q) eps per output.
func (o *xbarOps) addLinearReadNoise(id vit.LinearID, ml *mappedLinear, l *vit.Linear, dst []float32, rows int) {
	perImage := rows / len(o.batch)
	o.nv = growF(o.nv, rows*l.Out)
	if ml.qbf != nil {
		o.variancesBF16(o.nv, o.xq, rows, ml.qbf)
	} else {
		o.x2 = growF(o.x2, rows*l.In)
		for i, v := range o.xq[:rows*l.In] {
			o.x2[i] = v * v
		}
		linalg.MatMul(rows, l.Out, l.In, o.x2, l.In, ml.q, l.Out, o.nv, l.Out, false)
	}
	for b, img := range o.batch {
		lo, hi := b*perImage*l.Out, (b+1)*perImage*l.Out
		o.addReadNoise(dst[lo:hi], o.nv[lo:hi], o.key(img, id.Block, -1, int(id.Kind), keyrand.ReadLinear))
	}
}

// addReadNoise adds sigma_r sqrt(v) eps to y, the draws eps from the
// stream of key k: the ziggurat Stream, or with vectorNormals the vector
// Normals and the vector addition.
func (o *xbarOps) addReadNoise(y, v []float32, k keyrand.Key) {
	if !o.mp.vectorNormals {
		o.stream.Reset(k)
		crossbar.AddReadNoise(y, v, o.s.Profile.SigmaR, o.stream)
		return
	}
	o.eps = growF(o.eps, len(y))
	o.normalsFor(k).Fill(o.eps)
	linalg.AddNoise(y, v, o.eps, float32(o.s.Profile.SigmaR))
}

// normalsFor returns o's Normals source reset to key k.
func (o *xbarOps) normalsFor(k keyrand.Key) *keyrand.Normals {
	if o.normals == nil {
		o.normals = keyrand.NewNormals(k)
	} else {
		o.normals.Reset(k)
	}
	return o.normals
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// Attention implements vit.Ops: Q K^T with K^T written to a crossbar, a
// digital softmax, A V with V written to a crossbar; and, for the SNR, the
// same core computed digitally from the same Q, K and V.
func (o *xbarOps) Attention(a *vit.Attention) {
	n, hd := a.Tokens, a.HeadDim
	o.ref = growF(o.ref, n*hd)
	refA := *a
	refA.Out = o.ref
	refA.CLSAttn = nil // pruning ranks by the crossbar's attention, not the reference's
	o.refScores = vit.DigitalAttention(&refA, o.refScores)

	p := &o.s.Profile
	onQK, onAV := p.On(crossbar.PlaceQK), p.On(crossbar.PlaceAV)
	o.scores = growF(o.scores, n*n)
	if onQK {
		o.product(a, a.Q, a.KT, n, hd, n, o.scores, keyrand.WriteK, keyrand.ReadQK)
	} else {
		linalg.MatMul(n, n, hd, a.Q, hd, a.KT, n, o.scores, n, false)
	}
	linalg.SoftmaxRows(o.scores, n, n, a.Scale)
	if a.CLSAttn != nil {
		linalg.Add(a.CLSAttn[:n], o.scores[:n])
	}
	if onAV {
		o.product(a, o.scores, a.V, n, n, hd, a.Out, keyrand.WriteV, keyrand.ReadAV)
	} else {
		linalg.MatMul(n, hd, n, o.scores, n, a.V, hd, a.Out, hd, false)
	}

	bi := -1
	for i, img := range o.batch {
		if img == a.Image {
			bi = i
			break
		}
	}
	var sig, noise float64
	for i, r := range o.ref {
		d := float64(a.Out[i]) - float64(r)
		sig += float64(r) * float64(r)
		noise += d * d
	}
	o.snr[bi][a.Block].signal += sig
	o.snr[bi][a.Block].noise += noise
}

// product computes dst (rows x cols) = x (rows x inner) M on a crossbar
// holding M (inner x cols: K^T or V), written for this image, block and head
// with write noise and ClipFormer. Each row of x is one input vector,
// quantised on its own.
func (o *xbarOps) product(a *vit.Attention, x, m []float32, rows, inner, cols int, dst []float32, writeKind, readKind keyrand.Kind) {
	scale := o.kvScale(a, m, writeKind)
	clip := o.s.Clip
	sigmaR := o.s.Profile.SigmaR
	var wr *keyrand.Stream
	if o.gs > 0 {
		wr = o.stream
		wr.Reset(o.key(a.Image, a.Block, a.Head, 0, writeKind))
	}
	if o.mp.path == Reference {
		arr := o.codec.WriteArray(m, inner, cols, []float32{scale}, clip, o.gs, wr)
		o.stream.Reset(o.key(a.Image, a.Block, a.Head, 0, readKind))
		o.y64 = growF64(o.y64, cols)
		for r := 0; r < rows; r++ {
			arr.MVM(o.y64, x[r*inner:(r+1)*inner], sigmaR, o.stream, &o.mvm)
			for c, v := range o.y64 {
				dst[r*cols+c] = float32(v)
			}
		}
		return
	}
	var q []float32
	if sigmaR > 0 {
		o.q = growF(o.q, len(m))
		q = o.q
	}
	if o.intKV(inner) {
		o.productInt(x, m, rows, inner, cols, dst, q, scale)
	} else {
		o.eff = growF(o.eff, len(m))
		if q != nil && o.gs > 0 && o.mp.vectorNormals {
			o.codec.WriteNormals(o.eff, q, m, scale, clip, o.gs, o.normalsFor(o.key(a.Image, a.Block, a.Head, 0, writeKind)))
		} else {
			o.codec.Write(o.eff, q, m, scale, clip, o.gs, wr)
		}
		o.xq = growF(o.xq, rows*inner)
		o.codec.QuantizeRows(o.xq, x, rows, inner)
		linalg.MatMul(rows, cols, inner, o.xq, inner, o.eff, cols, dst, cols, false)
	}
	if q != nil {
		o.nv = growF(o.nv, rows*cols)
		if o.mp.bf16Variances {
			o.bf.q.Pack(q, inner, cols, cols)
			o.variancesBF16(o.nv, o.xq, rows, &o.bf.q)
		} else {
			for i, v := range o.xq {
				o.xq[i] = v * v
			}
			linalg.MatMul(rows, cols, inner, o.xq, inner, q, cols, o.nv, cols, false)
		}
		o.addReadNoise(dst, o.nv, o.key(a.Image, a.Block, a.Head, 0, readKind))
	}
}

// kvScale is the conductance scale of the K or V matrix being written.
func (o *xbarOps) kvScale(a *vit.Attention, m []float32, kind keyrand.Kind) float32 {
	if o.s.Profile.KVScale == crossbar.Dynamic {
		return crossbar.MaxAbs(m)
	}
	i := a.Block*o.kv.Heads + a.Head
	if kind == keyrand.WriteK {
		return o.kv.K[i]
	}
	return o.kv.V[i]
}
