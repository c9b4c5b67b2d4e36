package tally

// Summary is an evaluation's mergeable outcome: image and correct counts and,
// per transformer block, the attention core's SNR signal and noise sums.
// Every field merges by integer addition, so any order of merging gives the
// same bits.
type Summary struct {
	Images  int64
	Correct int64
	// Signal and Noise hold one sum per block; both have the same length.
	Signal, Noise []Sum
}

// Merge adds o into s. A summary with fewer blocks (an ideal model has
// none) grows to o's length.
func (s *Summary) Merge(o Summary) {
	s.Images += o.Images
	s.Correct += o.Correct
	if n := len(o.Signal); len(s.Signal) < n {
		s.Signal = append(s.Signal, make([]Sum, n-len(s.Signal))...)
	}
	if n := len(o.Noise); len(s.Noise) < n {
		s.Noise = append(s.Noise, make([]Sum, n-len(s.Noise))...)
	}
	for i := range o.Signal {
		s.Signal[i].Merge(o.Signal[i])
	}
	for i := range o.Noise {
		s.Noise[i].Merge(o.Noise[i])
	}
}
