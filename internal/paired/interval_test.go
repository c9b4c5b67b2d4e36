package paired

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func outcomes(t *testing.T, trial int, images int64, correct ...int64) Outcomes {
	t.Helper()
	o := Outcomes{}
	for b, c := range correct {
		if err := o.Add(Unit{Block: b, Trial: trial}, Count{Images: images, Correct: c}); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// A hand-computed example: three blocks of 100 images, one trial. The
// per-block gains are 2, 5 and 1 points: mean 2.6667, sample sd
// sqrt(8.6667/2) = 2.0817, standard error 2.0817/sqrt(3) = 1.2019, and
// t(0.975, 2) = 4.303, so the paired half-width is 5.1717. Unpaired, the
// accuracies 85 +- 2.8868 and 82.333 +- 2.8480 give a standard error of
// sqrt(8.3333 + 8.1111) = 4.0552 with Welch-Satterthwaite df
// 270.42/(34.722 + 32.895) = 3.9995, rounded down to 3: t = 3.182, half
// 12.904.
func TestGainMatchesAHandComputedPairedT(t *testing.T) {
	a := outcomes(t, 0, 100, 90, 85, 80)
	b := outcomes(t, 0, 100, 88, 80, 79)
	g, err := Gain(a, b, nil, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// Hand values to 4 decimals; the t table to 3.
	near := func(name string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.5f, hand-computed %.4f", name, got, want)
		}
	}
	near("gain", g.Estimate, 2.6667, 1e-4)
	near("paired SE", g.SE, 1.2019, 1e-4)
	near("paired half", g.Half, 5.1717, 2e-3)
	if g.DF != 2 || g.Blocks != 3 || g.Trials != 1 || g.Images != 300 {
		t.Errorf("df %d, %d blocks, %d trials, %d images; want 2, 3, 1, 300", g.DF, g.Blocks, g.Trials, g.Images)
	}
	u, err := Unpaired(a, b, nil, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	near("unpaired SE", u.SE, 4.0552, 1e-4)
	near("unpaired half", u.Half, 12.904, 3e-3)
	if u.DF != 3 {
		t.Errorf("unpaired df %d, want 3", u.DF)
	}
	near("p-value", g.P(), TwoSidedP(2.6667/1.2019, 2), 1e-4)
}

// With blocks of unequal difficulty that both settings share, the paired
// interval is much narrower than the unpaired one; on settings that share
// nothing it is not.
func TestPairedIsNarrowerOnCorrelatedData(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b, ia, ib := Outcomes{}, Outcomes{}, Outcomes{}, Outcomes{}
	for blk := 0; blk < 20; blk++ {
		for tr := 0; tr < 3; tr++ {
			var ca, cb, ja, jb int64
			p := 0.6 + 0.35*r.Float64() // the block's difficulty
			q := 0.6 + 0.35*r.Float64() // another, for the independent pair
			for i := 0; i < 200; i++ {
				u := r.Float64()
				ca += b2i(u < p)
				cb += b2i(u < p-0.02) // b fails 2 points more of the same images
				ja += b2i(r.Float64() < p)
				jb += b2i(r.Float64() < q-0.02)
			}
			u := Unit{Block: blk, Trial: tr}
			a[u], b[u] = Count{200, ca}, Count{200, cb}
			ia[u], ib[u] = Count{200, ja}, Count{200, jb}
		}
	}
	pg, _ := Gain(a, b, nil, 0.95)
	ug, _ := Unpaired(a, b, nil, 0.95)
	if !(pg.Half*3 < ug.Half) {
		t.Errorf("correlated: paired half %.3f, unpaired %.3f; want paired under a third", pg.Half, ug.Half)
	}
	pi, _ := Gain(ia, ib, nil, 0.95)
	ui, _ := Unpaired(ia, ib, nil, 0.95)
	if r := pi.Half / ui.Half; r < 0.7 || r > 1.4 {
		t.Errorf("independent: paired half %.3f, unpaired %.3f; want about equal", pi.Half, ui.Half)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// The two-way variance counts trials: a trial effect shared by all blocks
// (a noise draw that shifts every image of the trial) widens the interval,
// which a block-only interval would miss.
func TestAccuracyCountsTrialVariation(t *testing.T) {
	steady, shifted := Outcomes{}, Outcomes{}
	for tr := 0; tr < 4; tr++ {
		for blk := 0; blk < 10; blk++ {
			c := int64(80 + blk%3)
			u := Unit{Block: blk, Trial: tr}
			steady[u] = Count{100, c}
			shifted[u] = Count{100, c + int64(4*(tr%2)) - 2}
		}
	}
	s, _ := Accuracy(steady, nil, 0.95)
	h, _ := Accuracy(shifted, nil, 0.95)
	if s.Trials != 4 || s.Blocks != 10 || !(h.Half > 2*s.Half) {
		t.Errorf("steady %+v\nshifted %+v\nwant the trial shifts to widen the interval", s, h)
	}
}

// A single shard has no variance to estimate; one block over trials or
// one trial over blocks has one kind of cluster.
func TestAccuracyNeedsTwoClusters(t *testing.T) {
	one := outcomes(t, 0, 100, 90)
	iv, _ := Accuracy(one, nil, 0.95)
	if !math.IsInf(iv.Half, 1) || iv.DF != 0 || iv.P() != 1 {
		t.Errorf("one shard: %+v; want an infinite half-width and df 0", iv)
	}
	// Identical blocks: the cluster variance is 0 and the image-level
	// floor p(1-p)/N holds: 0.9*0.1/300 -> SE 1.7321 points.
	same := outcomes(t, 0, 100, 90, 90, 90)
	iv, _ = Accuracy(same, nil, 0.95)
	if math.Abs(iv.SE-1.7321) > 1e-4 || iv.DF != 2 {
		t.Errorf("identical blocks: %+v; want the binomial floor's SE 1.7321 with df 2", iv)
	}
}

func TestOutcomesRefuseBadInput(t *testing.T) {
	o := Outcomes{}
	u := Unit{Block: 1, Trial: 2}
	for _, c := range []Count{{0, 0}, {10, 11}, {10, -1}} {
		if err := o.Add(u, c); !errors.Is(err, ErrInput) {
			t.Errorf("Add(%+v): %v; want ErrInput", c, err)
		}
	}
	if err := o.Add(u, Count{10, 5}); err != nil {
		t.Fatal(err)
	}
	if err := o.Add(u, Count{10, 5}); err != nil {
		t.Errorf("the same outcome again: %v", err)
	}
	if err := o.Add(u, Count{10, 6}); !errors.Is(err, ErrInput) {
		t.Errorf("a differing outcome: %v; want ErrInput", err)
	}
	other := Outcomes{u: {Images: 9, Correct: 5}}
	if _, err := Gain(o, other, []Unit{u}, 0.95); !errors.Is(err, ErrInput) {
		t.Errorf("Gain over units of different sizes: %v; want ErrInput", err)
	}
	if _, err := Gain(o, Outcomes{}, []Unit{u}, 0.95); !errors.Is(err, ErrInput) {
		t.Errorf("Gain over a missing unit: %v; want ErrInput", err)
	}
	if _, err := Accuracy(o, nil, 1.5); !errors.Is(err, ErrInput) {
		t.Errorf("level 1.5: %v; want ErrInput", err)
	}
}
