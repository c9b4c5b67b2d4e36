package paired

import (
	"fmt"
	"math"
)

// Target is a precision target for one grid point (a spec's
// `adaptive: {halfwidth, max_trials}`): measure until the interval of the
// point's accuracy is at most HalfWidth, within Blocks image blocks and
// MaxTrials trials.
type Target struct {
	HalfWidth  float64 // accuracy points
	Confidence float64 // e.g. 0.95
	Blocks     int     // image blocks in the data set (a layout's chunks)
	MaxTrials  int
}

// PlanStatus is where a point stands against its target.
type PlanStatus int

// A point is Measuring while its next units are outstanding; it ends when
// its interval meets the target (TargetMet) or every block and trial has
// been evaluated (BudgetSpent).
const (
	Measuring PlanStatus = iota
	TargetMet
	BudgetSpent
)

func (s PlanStatus) String() string {
	return [...]string{"measuring", "target met", "budget spent"}[s]
}

// Plan is the precision rule's decision for one point.
type Plan struct {
	Status PlanStatus
	// Blocks x Trials is the last complete rectangle (blocks 0..Blocks-1
	// of trials 0..Trials-1) and Interval its accuracy's interval; zero
	// before the first one is complete.
	Blocks, Trials int
	Interval       Interval
	// While measuring: the step taken ("start", "block" or "trial") and
	// the units it still needs.
	Step string
	Next []Unit
}

// Precision replays the precision rule on a point's committed outcomes. It
// starts with 2 blocks x 3 trials (fewer when the target allows fewer:
// with 2 trials the trials' variance has one degree of freedom, and a
// chance-small estimate stops the rule too early) and,
// while the rectangle's interval is wider than the target, adds the step
// that buys the most variance per image evaluated: a block (Trials more
// shards) takes V_blocks/(J+1) off the variance, a trial (J more shards)
// takes V_trials/(T+1); per image, a trial wins when
// V_trials/((T+1) J) > V_blocks/((J+1) T), else a block, within the
// target's limits.
//
// Like the race it depends only on the outcomes held: units outside the
// rectangles it asks for change nothing.
func Precision(t Target, o Outcomes) (Plan, error) {
	if err := t.check(); err != nil {
		return Plan{}, err
	}
	j, tr := min(2, t.Blocks), min(3, t.MaxTrials)
	plan, step := Plan{}, "start"
	for {
		rect := TrialMajor(j, tr)
		if missing := missingUnits(o, rect); len(missing) > 0 {
			plan.Status, plan.Step, plan.Next = Measuring, step, missing
			return plan, nil
		}
		iv, err := Accuracy(o, rect, t.Confidence)
		if err != nil {
			return Plan{}, err
		}
		plan = Plan{Blocks: j, Trials: tr, Interval: iv}
		switch {
		case iv.Half <= t.HalfWidth:
			plan.Status = TargetMet
			return plan, nil
		case j == t.Blocks && tr == t.MaxTrials:
			plan.Status = BudgetSpent
			return plan, nil
		}
		if nextIsTrial(o, rect, j, tr, t) {
			tr, step = tr+1, "trial"
		} else {
			j, step = j+1, "block"
		}
	}
}

// nextIsTrial chooses the next step of a rectangle of j blocks x tr trials.
func nextIsTrial(o Outcomes, rect []Unit, j, tr int, t Target) bool {
	switch {
	case j == t.Blocks:
		return true
	case tr == t.MaxTrials:
		return false
	}
	xs := make([]obs, len(rect))
	var y, n int64
	for i, u := range rect {
		c := o[u]
		xs[i] = obs{u: u, y: c.Correct, n: c.Images}
		y, n = y+c.Correct, n+c.Images
	}
	vb, _ := clusterVariance(xs, func(u Unit) int { return u.Block }, y, n)
	vt, _ := clusterVariance(xs, func(u Unit) int { return u.Trial }, y, n)
	perTrial := vt / float64(float64(tr+1)*float64(j))
	perBlock := vb / float64(float64(j+1)*float64(tr))
	return perTrial > perBlock
}

func missingUnits(o Outcomes, units []Unit) []Unit {
	var out []Unit
	for _, u := range units {
		if _, ok := o[u]; !ok {
			out = append(out, u)
		}
	}
	return out
}

func (t Target) check() error {
	switch {
	case !(t.HalfWidth > 0) || math.IsInf(t.HalfWidth, 1):
		return fmt.Errorf("%w: adaptive halfwidth %v: want a finite value > 0", ErrInput, t.HalfWidth)
	case !(t.Confidence > 0 && t.Confidence < 1):
		return fmt.Errorf("%w: adaptive confidence %v is not in (0, 1)", ErrInput, t.Confidence)
	case t.Blocks < 1:
		return fmt.Errorf("%w: adaptive blocks %d: want at least 1", ErrInput, t.Blocks)
	case t.MaxTrials < 1:
		return fmt.Errorf("%w: adaptive max_trials %d: want at least 1", ErrInput, t.MaxTrials)
	}
	return nil
}
