package paired

import "math/rand/v2"

// world draws synthetic outcomes of settings that share images, as a
// sweep's settings do: image i of block b has a difficulty p_i (most images
// easy, some hard), trial t a draw V_(b,i,t) in [0, 1) that every setting
// shares with probability shared (otherwise its own draw), and setting s
// answers correctly when V < p_i + delta_s + shift_t. Equal deltas give
// settings of equal true accuracy; a larger delta a better one. shift_t
// is a trial's effect on every image (as programming noise drawn once per
// trial has): trialShift times a standard normal draw, held within +-0.03
// so that it never pushes p_i + shift_t out of [0, 1] and leaves the true
// accuracy as it is.
type world struct {
	blocks, trials, images int
	shared                 float64
	delta                  []float64
	trialShift             float64
}

// draw returns every setting's outcomes on every unit, from seed.
func (w world) draw(seed uint64) []Outcomes {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]Outcomes, len(w.delta))
	for s := range out {
		out[s] = Outcomes{}
	}
	p := make([]float64, w.blocks*w.images)
	for i := range p {
		p[i] = 0.97
		if r.Float64() < 0.15 {
			p[i] = 0.2 + 0.6*r.Float64()
		}
	}
	correct := make([]int64, len(w.delta))
	for t := 0; t < w.trials; t++ {
		shift := 0.0
		if w.trialShift > 0 { // no draw otherwise: seeded worlds stay as they were
			shift = min(0.03, max(-0.03, w.trialShift*r.NormFloat64()))
		}
		for b := 0; b < w.blocks; b++ {
			clear(correct)
			for i := 0; i < w.images; i++ {
				v := r.Float64()
				for s, d := range w.delta {
					vs := v
					if r.Float64() >= w.shared {
						vs = r.Float64()
					}
					if vs < p[b*w.images+i]+d+shift {
						correct[s]++
					}
				}
			}
			for s, c := range correct {
				out[s][Unit{Block: b, Trial: t}] = Count{Images: int64(w.images), Correct: c}
			}
		}
	}
	return out
}
