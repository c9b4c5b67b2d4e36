package sweep

import (
	"testing"

	"github.com/clipformer/clipformer/internal/device"
)

// Only trial-independent points have copies, each in a later trial, of the
// shard of trial 0 with the same point and image range; the paper grid's
// gamma 0 points are those, and 2 of 3 trials of them are copies.
func TestCopyOfMapsLaterTrialsOfTrialIndependentPointsToTrialZero(t *testing.T) {
	s, err := Parse("paper.yaml", []byte(paperSpec+"profile: {sigma_r: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(s)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for k := 0; k < l.Shards(); k++ {
		w := l.Shard("", k)
		src, ok := l.CopyOf(k)
		want := w.Point.Gamma == 0 && w.Trial > 0
		if ok != want {
			t.Fatalf("shard %d (gamma %v, trial %d): CopyOf ok %v, want %v", k, w.Point.Gamma, w.Trial, ok, want)
		}
		if !ok {
			continue
		}
		copies++
		sw := l.Shard("", src)
		if sw.Trial != 0 || sw.Point.Index != w.Point.Index || sw.Start != w.Start || sw.Count != w.Count || src >= k {
			t.Fatalf("shard %d (point %d, trial %d, start %d) copies shard %d (point %d, trial %d, start %d)",
				k, w.Point.Index, w.Trial, w.Start, src, sw.Point.Index, sw.Trial, sw.Start)
		}
	}
	shards, images := l.Copies()
	if want := 31 * 2 * 4; copies != want || shards != int64(want) || images != 31*2*1000 {
		t.Fatalf("%d copies found, Copies() = %d shards, %d images; want %d shards of 31 points x 2 trials x 1000 images", copies, shards, images, want)
	}
}

// Each source of per-trial draws alone makes a point trial-dependent, and
// only where the noise it drives sits on crossbars.
func TestTrialIndependentNeedsEveryNoiseSourceOff(t *testing.T) {
	base := device.Default()
	base.SigmaW = device.Some(0.5)
	cases := []struct {
		name  string
		set   func(p *device.Profile)
		gamma float64
		want  bool
	}{
		{"no noise", func(*device.Profile) {}, 0, true},
		{"write noise", func(*device.Profile) {}, 1, false},
		{"write noise with sigma_w 0", func(p *device.Profile) { p.SigmaW = device.Some(0) }, 3, true},
		{"write noise with K and V digital", func(p *device.Profile) { p.OnCrossbar = []string{"qkv", "fc1"} }, 3, true},
		{"read noise", func(p *device.Profile) { p.SigmaR = 0.05 }, 0, false},
		{"read noise on K and V only", func(p *device.Profile) { p.SigmaR = 0.05; p.OnCrossbar = []string{"qk"} }, 0, false},
		{"read noise on a linear only", func(p *device.Profile) { p.SigmaR = 0.05; p.OnCrossbar = []string{"head"} }, 0, false},
		{"read noise with nothing on crossbars", func(p *device.Profile) { p.SigmaR = 0.05; p.OnCrossbar = nil }, 0, true},
		{"programming noise", func(p *device.Profile) { p.ProgrammingGamma = 1 }, 0, false},
		{"programming noise with sigma_w 0", func(p *device.Profile) { p.ProgrammingGamma = 1; p.SigmaW = device.Some(0) }, 0, true},
		{"programming noise with only K and V on crossbars", func(p *device.Profile) { p.ProgrammingGamma = 1; p.OnCrossbar = []string{"qk", "av"} }, 0, true},
		{"an ADC, per-value cells, clamping", func(p *device.Profile) {
			p.ADCBits, p.Granularity, p.ClampNegative = 6, device.PerValue, true
		}, 0, true},
	}
	for _, c := range cases {
		p := base
		p.OnCrossbar = append([]string(nil), base.OnCrossbar...)
		c.set(&p)
		if got := TrialIndependent(&p, c.gamma); got != c.want {
			t.Errorf("%s (gamma %v): TrialIndependent %v, want %v", c.name, c.gamma, got, c.want)
		}
	}
}
