package sim

import (
	"fmt"

	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// intScratch holds the buffers of the exact integer products; one per
// xbarOps.
type intScratch struct {
	xc     []int16   // input codes, rows x KPad
	units  []float64 // one input code step per row
	packed linalg.PackedInt16
	unit   [1]float64
}

func growI16(s []int16, n int) []int16 {
	if cap(s) < n {
		return make([]int16, n)
	}
	return s[:n]
}

// intProduct sets dst (rows x b.N, row stride b.N) to the crossbar product
// of x (rows x b.K) with the stored codes b whose step is colUnit: the input
// codes times the stored codes, summed exactly in int32, then scaled once by
// the input row's and the column's units.
func (o *xbarOps) intProduct(dst, x []float32, rows int, b *linalg.PackedInt16, colUnit []float64) {
	sc := &o.ints
	lda := b.KPad
	sc.xc = growI16(sc.xc, rows*lda)
	sc.units = growF64(sc.units, rows)
	o.codec.QuantizeCodes(sc.xc, lda, sc.units, x, rows, b.K)
	if err := linalg.MatMulInt16(rows, sc.xc, lda, b, dst, b.N, sc.units, colUnit, o.codec.P.MaxInput()); err != nil {
		// IntegerProducts was checked before the codes were stored.
		panic(fmt.Sprintf("sim: integer crossbar product: %v", err))
	}
}

// linearInt is Linear for a linear stored as codes.
func (o *xbarOps) linearInt(id vit.LinearID, ml *mappedLinear, l *vit.Linear, dst, x []float32, rows int) {
	o.intProduct(dst, x, rows, ml.codes, ml.colUnit)
	if ml.q != nil || ml.qbf != nil {
		o.xq = growF(o.xq, rows*l.In)
		o.codec.QuantizeRows(o.xq, x, rows, l.In)
		o.addLinearReadNoise(id, ml, l, dst, rows)
	}
	linalg.AddBias(dst, rows, l.Out, l.B)
}

// intKV reports whether a written K^T or V of inner rows is an integer
// matrix that the exact kernels take: no write noise.
func (o *xbarOps) intKV(inner int) bool {
	return o.gs == 0 && o.mp.intProducts && o.codec.IntegerProducts(inner)
}

// productInt is product's fast path for a noise-free K^T or V: m (inner x
// cols) stored as signed codes with the given scale, q (when non-nil)
// receiving its read-noise variances.
func (o *xbarOps) productInt(x, m []float32, rows, inner, cols int, dst, q []float32, scale float32) {
	sc := &o.ints
	o.codec.SignedCodesPacked(&sc.packed, q, m, inner, cols, scale, o.s.Clip)
	sc.unit[0] = o.codec.Unit(scale)
	o.intProduct(dst, x, rows, &sc.packed, sc.unit[:])
	if q != nil {
		o.xq = growF(o.xq, rows*inner)
		o.codec.QuantizeRows(o.xq, x, rows, inner)
	}
}
