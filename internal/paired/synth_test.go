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
// accuracy as it is. interaction adds to it a shift of each setting in each
// trial (the same draw of write noise helps one setting and hurts another),
// interaction times a standard normal draw, the sum held within +-0.03: the
// settings' accuracies over the draws stay as their deltas say, while given
// the trials drawn they differ.
type world struct {
	blocks, trials, images int
	shared                 float64
	delta                  []float64
	trialShift             float64
	interaction            float64
}

// draw returns every setting's outcomes on every unit, from seed.
func (w world) draw(seed uint64) []Outcomes {
	out, _ := w.drawGiven(seed)
	return out
}

// drawGiven is draw that also returns each setting's true accuracy given
// the trials drawn, less a constant: delta_s plus the mean over the trials
// of its shift. Since every image's p_i + delta_s + shift stays within
// [0, 1] (for deltas in [-0.17, 0]), the chance of a correct answer is
// linear in the shift, and so is the accuracy.
func (w world) drawGiven(seed uint64) ([]Outcomes, []float64) {
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
	truth := make([]float64, len(w.delta))
	shifts := make([]float64, len(w.delta))
	for t := 0; t < w.trials; t++ {
		shift := 0.0
		if w.trialShift > 0 { // no draw otherwise: seeded worlds stay as they were
			shift = min(0.03, max(-0.03, w.trialShift*r.NormFloat64()))
		}
		for s := range shifts {
			shifts[s] = shift
			if w.interaction > 0 {
				shifts[s] = min(0.03, max(-0.03, shift+w.interaction*r.NormFloat64()))
			}
			truth[s] += (w.delta[s] + shifts[s]) / float64(w.trials)
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
					if vs < p[b*w.images+i]+d+shifts[s] {
						correct[s]++
					}
				}
			}
			for s, c := range correct {
				out[s][Unit{Block: b, Trial: t}] = Count{Images: int64(w.images), Correct: c}
			}
		}
	}
	return out, truth
}
