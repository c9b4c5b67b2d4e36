package sim

import (
	"fmt"

	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/keyrand"
	"github.com/clipformer/clipformer/sim/linalg"
	"github.com/clipformer/clipformer/sim/vit"
)

// mappedLinear is one static linear as programmed to crossbars.
type mappedLinear struct {
	eff []float32 // fast path: effective W (In x Out), nil when codes hold it
	// codes and colUnit: fast path without programming noise, the signed
	// codes (W = codes x colUnit, one unit or one per column) packed for
	// the exact integer product.
	codes   *linalg.PackedInt16
	colUnit []float64
	q       []float32          // fast path: read-noise variance per weight, nil when sigma_r = 0
	qbf     *linalg.PackedBF16 // q in bfloat16 instead, with bfloat16 variance products
	arr     *crossbar.Array    // reference path: W^T (In x Out) as explicit cells
}

// Mapped is a model's static weights programmed to crossbars for one trial
// (for every trial when programming noise is off). Read-only once built, so
// any number of goroutines may share it.
type Mapped struct {
	model  *vit.Model
	codec  *crossbar.Codec
	path   Path
	key    string // mappingKey of the setting it was built for
	linear map[vit.LinearID]*mappedLinear
	// intProducts: products with an integer stored matrix (noise-free
	// static weights, K and V without write noise) run in exact int32.
	intProducts bool
	// bf16Variances: read-noise variance products (x_q^2) Q in bfloat16.
	bf16Variances bool
	// vectorNormals: read-noise draws from keyrand.Normals.
	vectorNormals bool
}

// mappingKey names everything a weight mapping depends on: the profile (with
// the sigma_w it resolves to, however it was given), and the seed and trial
// only when programming noise is on.
func mappingKey(s *Setting, path Path) string {
	k := fmt.Sprintf("%s %+v", path, s.Profile.Resolved())
	if s.Profile.ProgrammingGamma > 0 {
		k += fmt.Sprintf(" seed %d trial %d", s.Seed, s.Trial)
	}
	return k
}

// Serves reports whether mp holds m's weights as s on path maps them.
func (mp *Mapped) Serves(m *vit.Model, s *Setting, path Path) bool {
	return mp != nil && mp.model == m && mp.key == mappingKey(s, path)
}

// place says which Profile.OnCrossbar entry governs a linear.
func place(k vit.LinearKind) string {
	switch k {
	case vit.QKV:
		return crossbar.PlaceQKV
	case vit.Proj:
		return crossbar.PlaceProj
	case vit.FC1:
		return crossbar.PlaceFC1
	case vit.FC2:
		return crossbar.PlaceFC2
	case vit.PatchEmbed:
		return crossbar.PlacePatchEmbed
	default:
		return crossbar.PlaceHead
	}
}

// MapWeights programs the static linears that the profile puts on crossbars.
// Programming noise (gamma_p sigma_w, off by default) is drawn once per trial
// from keys that name the trial, block and linear.
func MapWeights(m *vit.Model, s *Setting, path Path) (*Mapped, error) {
	return mapWeights(m, s, path, defaultMapOptions())
}

// mapOptions are the switches of the fast path's arithmetic that change
// result bits; MapWeights takes them from the constants below, tests and
// benchmarks set them to compare both ways.
type mapOptions struct {
	intProducts   bool // integerProducts
	bf16Variances bool // bf16Variances
	vectorNormals bool // vectorNormals
}

// defaultMapOptions are the switches as evaluations take them.
func defaultMapOptions() mapOptions {
	return mapOptions{intProducts: integerProducts, bf16Variances: bf16Variances, vectorNormals: vectorNormals}
}

// integerProducts turns on the exact integer products (intops.go) for
// evaluations. They are built and tested (mapWeights with true, in the
// tests and benchmarks), but off: they change the last bits of every
// crossbar result, and the committed study results (docs/results) were
// computed with float32 products. They go on together with the
// regenerated study.
const integerProducts = false

// bf16Variances computes the read-noise variance product (x_q^2) Q with
// bfloat16 operands and float32 sums (linalg.MatMulBF16: AVX512_BF16 where
// the CPU has it, the float32 kernels with the same bits elsewhere), at
// about twice the float32 rate, and stores the static linears' Q in half
// the memory. A standard deviation needs far less than float32's
// precision: the operands' rounding moves each output's read-noise standard
// deviation by at most about 0.4 %. Built and tested both ways, but off:
// it changes the bits of every result with read noise (sigma_r > 0; results
// without read noise never compute this product), and the committed study
// results were computed with float32 variances. It goes on with the
// regenerated study.
const bf16Variances = false

// vectorNormals draws the read noise of every crossbar output from
// keyrand.Normals (16 generator lanes in vector registers, each draw by the
// inverse distribution function: no rejections, no tails) instead of the
// keyed ziggurat Stream, and adds it with vector code (linalg.AddNoise);
// and it writes K and V cell by cell, as read noise needs (their variances
// depend on the noisy cells), with vector code and the write noise from a
// Normals source too (crossbar's WriteNormals: one draw per cell, in
// float32). The draws cost a fraction of the ziggurat's. Built and tested both ways,
// but off: it changes the random streams of read noise, so every result
// with sigma_r > 0 changes (in its draws, not in distribution); results
// without read noise never draw from these streams. It goes on with the
// regenerated study.
const vectorNormals = false

// mapWeights is MapWeights with explicit switches (the benchmarks and tests
// compare both settings of each).
func mapWeights(m *vit.Model, s *Setting, path Path, opt mapOptions) (*Mapped, error) {
	intProducts := opt.intProducts
	codec, err := crossbar.NewCodec(s.Profile)
	if err != nil {
		return nil, err
	}
	mp := &Mapped{model: m, codec: codec, path: path, key: mappingKey(s, path), linear: map[vit.LinearID]*mappedLinear{},
		intProducts: intProducts, bf16Variances: opt.bf16Variances, vectorNormals: opt.vectorNormals}
	p := &s.Profile
	gs := p.ProgrammingGamma * p.EffectiveSigmaW()
	for id, l := range linearsOf(m) {
		if !p.On(place(id.Kind)) {
			continue
		}
		var rng *keyrand.Stream
		if gs > 0 {
			rng = keyrand.New(keyrand.Key{Seed: s.Seed, Trial: s.Trial, Image: -1, Layer: id.Block, Head: -1, Sub: int(id.Kind), Kind: keyrand.Programming})
		}
		ml := &mappedLinear{}
		scales := weightScales(l, p.WeightScale)
		switch {
		case path == Reference:
			ml.arr = codec.WriteArray(l.WT, l.In, l.Out, scales, crossbar.ClipFormer{}, gs, rng)
		case gs == 0 && intProducts && codec.IntegerProducts(l.In):
			mapCodes(ml, codec, l, scales, p.SigmaR > 0)
		default:
			ml.eff = make([]float32, len(l.WT))
			if p.SigmaR > 0 {
				ml.q = make([]float32, len(l.WT))
			}
			codec.WriteColumns(ml.eff, ml.q, l.WT, l.Out, scales, gs, rng)
		}
		if ml.q != nil && opt.bf16Variances {
			ml.qbf = &linalg.PackedBF16{}
			ml.qbf.Pack(ml.q, l.In, l.Out, l.Out)
			ml.q = nil
		}
		mp.linear[id] = ml
	}
	return mp, nil
}

// mapCodes stores a noise-free linear as packed signed codes and units, and
// the read-noise variances when readNoise.
func mapCodes(ml *mappedLinear, codec *crossbar.Codec, l *vit.Linear, scales []float32, readNoise bool) {
	codes := make([]int16, len(l.WT))
	if readNoise {
		ml.q = make([]float32, len(l.WT))
	}
	codec.SignedCodesColumns(codes, ml.q, l.WT, l.Out, scales)
	ml.codes = &linalg.PackedInt16{}
	ml.codes.Pack(codes, l.Out, l.In, l.Out)
	ml.colUnit = make([]float64, len(scales))
	for j, sc := range scales {
		ml.colUnit[j] = codec.Unit(sc)
	}
}

// effective returns the fast path's effective W (In x Out), from the codes
// when it holds them.
func (ml *mappedLinear) effective() []float32 {
	if ml.codes == nil {
		return ml.eff
	}
	k, n := ml.codes.K, ml.codes.N
	w := make([]float32, k*n)
	for i := 0; i < k; i++ {
		for j := 0; j < n; j++ {
			w[i*n+j] = float32(float64(ml.codes.At(i, j)) * ml.colUnit[min(j, len(ml.colUnit)-1)])
		}
	}
	return w
}

// ReleaseWeights drops the float weights of every linear this mapping holds
// from the model, for memory: the crossbar copies are all that evaluating
// through this mapping reads. The model can then no longer run the ideal
// forward nor be mapped again; callers do this only when one mapping serves
// every remaining trial (no programming noise).
func (mp *Mapped) ReleaseWeights() {
	lins := linearsOf(mp.model)
	for id := range mp.linear {
		lins[id].WT = nil
	}
}

// weightScales is max |W| over the layer, or per output column.
func weightScales(l *vit.Linear, mode crossbar.WeightScale) []float32 {
	if mode == crossbar.PerLayer {
		return []float32{crossbar.MaxAbs(l.WT)}
	}
	s := make([]float32, l.Out)
	for i := 0; i < l.In; i++ {
		for o, w := range l.WT[i*l.Out : (i+1)*l.Out] {
			s[o] = max(s[o], abs32(w))
		}
	}
	return s
}

func linearsOf(m *vit.Model) map[vit.LinearID]*vit.Linear {
	ls := map[vit.LinearID]*vit.Linear{
		{Block: -1, Kind: vit.PatchEmbed}: &m.PatchEmbed,
		{Block: -1, Kind: vit.Head}:       &m.Head,
	}
	if m.Distilled {
		ls[vit.LinearID{Block: -1, Kind: vit.HeadDist}] = &m.HeadDist
	}
	if m.Config.AuxHead {
		ls[vit.LinearID{Block: -1, Kind: vit.AuxHead}] = &m.Aux
	}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		ls[vit.LinearID{Block: i, Kind: vit.QKV}] = &b.QKV
		ls[vit.LinearID{Block: i, Kind: vit.Proj}] = &b.Proj
		ls[vit.LinearID{Block: i, Kind: vit.FC1}] = &b.FC1
		ls[vit.LinearID{Block: i, Kind: vit.FC2}] = &b.FC2
	}
	return ls
}

// KVScales are the static conductance scales of K and V: the largest |value|
// per (block, head) over a calibration set, seen by the ideal float model.
type KVScales struct {
	Blocks, Heads int
	K, V          []float32 // [block*Heads + head]
	Images        int       // calibration images used
	Source        string    // the calibration set's name
}

func (s *KVScales) check(m *vit.Model) error {
	if s == nil {
		return fmt.Errorf("%w: the static K/V scale (kv_scale: static) needs calibrated scales", ErrConfig)
	}
	if s.Blocks != m.Depth || s.Heads != m.Heads {
		return fmt.Errorf("%w: K/V scales are for %d blocks x %d heads, the model has %d x %d", ErrConfig, s.Blocks, s.Heads, m.Depth, m.Heads)
	}
	return nil
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
