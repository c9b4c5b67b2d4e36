package figure

import (
	"fmt"
	"strings"
)

// Context says what a figure's data were measured on. Its fields name the
// values that hold for the whole figure; a list with several values means
// they differ between the lines (whose labels then say which is which).
type Context struct {
	Model       string    // the model, e.g. "vit-mnist"; "" when not known
	Dataset     string    // e.g. "fashion-mnist"; "" to leave out
	Granularity []string  // write-noise granularities: "slice", "value"
	SigmaR      []float64 // read-noise sigma values
	Gamma       []float64 // the write-noise factor, when the figure is at one gamma
	Note        string    // anything else that holds throughout, e.g. token pruning
}

// Describe is the context as one line, e.g.
// "vit-mnist on mnist · granularity slice · sigma_r 0 · gamma 5".
func (c Context) Describe() string {
	var parts []string
	switch {
	case c.Model != "" && c.Dataset != "":
		parts = append(parts, c.Model+" on "+c.Dataset)
	case c.Model != "":
		parts = append(parts, c.Model)
	case c.Dataset != "":
		parts = append(parts, c.Dataset)
	}
	if len(c.Granularity) > 0 {
		parts = append(parts, "granularity "+strings.Join(c.Granularity, ", "))
	}
	if len(c.SigmaR) > 0 {
		parts = append(parts, "sigma_r "+joinFloats(c.SigmaR))
	}
	if len(c.Gamma) > 0 {
		parts = append(parts, "gamma "+joinFloats(c.Gamma))
	}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	return strings.Join(parts, sep)
}

// sep separates the parts of a context line; long titles wrap there.
const sep = " · "

// At is c at one gamma.
func (c Context) At(gamma float64) Context {
	c.Gamma = []float64{gamma}
	return c
}

// title is what the figure shows on its first line and the context on the
// second.
func title(what string, c Context) string {
	if d := c.Describe(); d != "" {
		return what + "\n" + d
	}
	return what
}

func joinFloats(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%g", v)
	}
	return strings.Join(s, ", ")
}
