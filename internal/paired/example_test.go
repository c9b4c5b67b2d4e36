package paired_test

import (
	"fmt"

	"github.com/clipformer/clipformer/internal/paired"
)

// A state machine's loop: after each commit, replay the race on what is
// held and lease the units it asks for, for each survivor. Here setting 1
// is 30 points worse than setting 0 on every 100-image block, setting 2
// one point better.
func ExampleRace() {
	truth := []int64{70, 40, 71}
	held := []paired.Outcomes{{}, {}, {}}
	cfg := paired.RaceConfig{Confidence: 0.95, UnitsPerRound: 4}
	order := paired.BlockMajor(12, 1)
	for {
		res, err := paired.Race(cfg, order, held)
		if err != nil {
			fmt.Println(err)
			return
		}
		if res.Stop != paired.Running {
			fmt.Printf("%v after %d rounds, %d images\n", res.Stop, res.Rounds, res.Evaluations)
			for i, s := range res.Settings {
				fmt.Printf("setting %d: %v at round %d, gain of the best %+.1f\n", i, s.Status, s.Round, s.Gain.Estimate)
			}
			return
		}
		for _, s := range res.Survivors {
			for _, u := range res.Next {
				// The block's difficulty varies; both settings see it.
				c := truth[s] + int64(u.Block%3)*5
				held[s].Add(u, paired.Count{Images: 100, Correct: c})
			}
		}
	}
	// Output:
	// budget spent after 3 rounds, 2800 images
	// setting 0: undecided at round 3, gain of the best +1.0
	// setting 1: dropped at round 1, gain of the best +31.0
	// setting 2: winner at round 3, gain of the best +0.0
}
