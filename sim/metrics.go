package sim

import "math"

// BlockSNR is 10 log10(signal/noise) of block b in dB (+Inf without noise).
func (r *Result) BlockSNR(b int) float64 {
	return snrDB(r.Signal[b].Float64(), r.Noise[b].Float64())
}

// MeanSNR is <SNR>, the mean of the per-block SNRs in dB over the blocks
// whose attention core ran with noise; +Inf when none did.
func (r *Result) MeanSNR() float64 {
	var s float64
	n := 0
	for b := range r.Signal {
		v := r.BlockSNR(b)
		if math.IsInf(v, 1) {
			continue
		}
		s += v
		n++
	}
	if n == 0 {
		return math.Inf(1)
	}
	return s / float64(n)
}

func snrDB(signal, noise float64) float64 {
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(signal/noise)
}

// Interval summarises per-trial accuracies: mean, sample standard deviation
// and the half-width of a 95 % confidence interval for the mean (Student's t
// with trials-1 degrees of freedom). With one trial the half-width is that
// of the binomial proportion over the images, in the normal (Wald)
// approximation 1.96 sqrt(p (1-p) / images).
type Interval struct {
	Mean, Std, Half float64
	Trials, Images  int
}

// Summarize computes the interval of per-trial accuracies (percent), each over
// images images.
func Summarize(acc []float64, images int) Interval {
	iv := Interval{Trials: len(acc), Images: images}
	if len(acc) == 0 {
		return iv
	}
	for _, a := range acc {
		iv.Mean += a
	}
	iv.Mean /= float64(len(acc))
	if len(acc) == 1 {
		p := iv.Mean / 100
		if images > 0 {
			iv.Half = 100 * 1.959964 * math.Sqrt(p*(1-p)/float64(images))
		}
		return iv
	}
	for _, a := range acc {
		iv.Std += (a - iv.Mean) * (a - iv.Mean)
	}
	iv.Std = math.Sqrt(iv.Std / float64(len(acc)-1))
	iv.Half = tQuantile975(len(acc)-1) * iv.Std / math.Sqrt(float64(len(acc)))
	return iv
}

// tQuantile975 is Student's t 0.975 quantile for df degrees of freedom:
// tabulated to 30, then the first three terms of its expansion in 1/df
// around the normal quantile z (Abramowitz and Stegun 26.7.5), within 1e-5
// of the exact quantile above 30.
func tQuantile975(df int) float64 {
	table := []float64{0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df < len(table) {
		return table[df]
	}
	const z = 1.959963984540054
	z2 := z * z
	g1 := (z2 + 1) * z / 4
	g2 := ((5*z2+16)*z2 + 3) * z / 96
	g3 := (((3*z2+19)*z2+17)*z2 - 15) * z / 384
	n := float64(df)
	return z + g1/n + g2/(n*n) + g3/(n*n*n)
}
