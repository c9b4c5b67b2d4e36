package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim/crossbar"
)

// Limits are the bounds a coordinator puts on what it accepts.
type Limits struct {
	// MaxShards refuses larger sweeps (0: DefaultMaxShards).
	MaxShards int64
	// RequireSHA256 refuses a model without a checksum (cluster mode).
	RequireSHA256 bool
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fieldErrors collects "path: message" lines.
type fieldErrors []string

func (e *fieldErrors) add(path, format string, args ...any) {
	*e = append(*e, path+": "+fmt.Sprintf(format, args...))
}

func (e fieldErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrSpec, strings.Join(e, "; "))
}

// Validate checks a spec (with defaults applied) and reports every problem
// with its field path, e.g. "grid.clip[2].beta: 1.5 is outside [0.01, 1]".
func Validate(s *cfpb.SweepSpec, lim Limits) error {
	var errs fieldErrors
	if s == nil {
		errs.add("spec", "missing")
		return errs.err()
	}
	if s.Model == nil || s.Model.Path == "" {
		errs.add("model.path", "required")
	}
	if s.Model != nil && s.Model.Sha256 != "" && !hexSHA256.MatchString(s.Model.Sha256) {
		errs.add("model.sha256", "%q is not 64 lower-case hex digits", s.Model.Sha256)
	}
	if lim.RequireSHA256 && (s.Model == nil || s.Model.Sha256 == "") {
		errs.add("model.sha256", "required when submitting to a cluster, so that every worker checks it has the same checkpoint")
	}
	validateDataset(s.Dataset, &errs)
	base, perr := BaseProfile(s.Profile)
	if perr != nil {
		errs.add("profile", "%s", strings.TrimPrefix(perr.Error(), crossbar.ErrProfile.Error()+": "))
	}
	if s.Trials < 1 {
		errs.add("trials", "%d must be >= 1", s.Trials)
	}
	if s.ImagesPerShard < 1 {
		errs.add("images_per_shard", "%d must be >= 1", s.ImagesPerShard)
	}
	if s.MaxConcurrentShards < 0 {
		errs.add("max_concurrent_shards", "%d must be >= 0 (0: no cap)", s.MaxConcurrentShards)
	}
	if pr := s.Pruning; pr != nil {
		if !(pr.KeepRate > 0 && pr.KeepRate <= 1) {
			errs.add("pruning.keep_rate", "%v must be in (0, 1]", pr.KeepRate)
		}
		if len(pr.Blocks) == 0 {
			errs.add("pruning.blocks", "needs at least one block")
		}
		seen := map[int32]int{}
		for i, b := range pr.Blocks {
			if b < 0 {
				errs.add(fmt.Sprintf("pruning.blocks[%d]", i), "%d must be >= 0", b)
			}
			if j, ok := seen[b]; ok {
				errs.add(fmt.Sprintf("pruning.blocks[%d]", i), "%d repeats pruning.blocks[%d]", b, j)
			}
			seen[b] = i
		}
	}
	switch s.Path {
	case "", "fast", "reference":
	default:
		errs.add("path", "%q: want fast, reference or empty (automatic)", s.Path)
	}
	if s.Grid == nil {
		errs.add("grid", "required")
	} else if perr == nil {
		validateGrid(s.Grid, &base, &errs)
	}
	if len(errs) > 0 {
		return errs.err()
	}
	images, err := Images(s.Dataset)
	if err != nil {
		return err
	}
	maxShards := lim.MaxShards
	if maxShards == 0 {
		maxShards = DefaultMaxShards
	}
	chunks := (int64(images) + int64(s.ImagesPerShard) - 1) / int64(s.ImagesPerShard)
	// Counted, not expanded: a grid of many axes could be astronomically large.
	points := pointCount(s.Grid)
	n := mulCapped(mulCapped(points, int64(s.Trials)), chunks)
	if n > maxShards {
		total := fmt.Sprint(n)
		if n == math.MaxInt64 {
			total = "more than 9.2e18"
		}
		pts := fmt.Sprint(points)
		if points == math.MaxInt64 {
			pts = "more than 9.2e18"
		}
		return fmt.Errorf("%w: grid: %s points x %d trials x %d image ranges = %s shards, more than the limit of %d (raise images_per_shard or the coordinator's --max-shards)",
			ErrSpec, pts, s.Trials, chunks, total, maxShards)
	}
	return nil
}

// pointCount is the number of grid points, saturating at MaxInt64.
func pointCount(g *cfpb.Grid) int64 {
	n := int64(len(g.Gamma))
	n = mulCapped(n, int64(len(clipSettings(g))))
	n = mulCapped(n, int64(max(len(g.SigmaR), 1)))
	n = mulCapped(n, int64(max(len(g.SigmaW), 1)))
	for _, ax := range g.Device {
		n = mulCapped(n, int64(len(ax.Values)))
	}
	return n
}

func mulCapped(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

func validateDataset(d *cfpb.DatasetRef, errs *fieldErrors) {
	if d == nil {
		errs.add("dataset", "required")
		return
	}
	switch d.Kind {
	case "mnist", "fashion-mnist":
	case "idx", "folder":
		if d.Path == "" {
			errs.add("dataset.path", "required for kind %s", d.Kind)
		}
		if d.Limit < 1 {
			errs.add("dataset.limit", "required for kind %s (the coordinator cannot count the images; `clipformer submit` fills it in when it can read the folder)", d.Kind)
		}
	case "":
		errs.add("dataset.kind", "required: mnist, fashion-mnist, idx or folder")
	default:
		errs.add("dataset.kind", "%q: want mnist, fashion-mnist, idx or folder", d.Kind)
	}
	switch d.Split {
	case "test", "train":
	default:
		errs.add("dataset.split", "%q: want test or train", d.Split)
	}
	if d.Limit < 0 {
		errs.add("dataset.limit", "%d must be >= 0 (0: all images)", d.Limit)
	}
}

func validateGrid(g *cfpb.Grid, base *crossbar.Profile, errs *fieldErrors) {
	if len(g.Gamma) == 0 {
		errs.add("grid.gamma", "needs at least one value")
	}
	for i, v := range g.Gamma {
		if !finite(v) || v < 0 {
			errs.add(fmt.Sprintf("grid.gamma[%d]", i), "%v must be finite and >= 0", v)
		}
	}
	dup(g.Gamma, "grid.gamma", errs)
	checkClip := func(path string, alpha, beta float64) {
		if !finite(alpha) || alpha < 1 {
			errs.add(path+".alpha", "%v must be finite and >= 1", alpha)
		}
		if lo := base.Gmin / base.Gmax; !(beta >= lo && beta <= 1) {
			errs.add(path+".beta", "%v is outside [%g, 1]", beta, lo)
		}
	}
	for i, c := range g.Clip {
		if !c.Off {
			checkClip(fmt.Sprintf("grid.clip[%d]", i), c.Alpha, c.Beta)
		}
	}
	if cp := g.ClipProduct; cp != nil {
		if len(cp.Alpha) == 0 || len(cp.Beta) == 0 {
			errs.add("grid.clip_product", "needs at least one alpha and one beta")
		}
		for i, a := range cp.Alpha {
			checkClip(fmt.Sprintf("grid.clip_product.alpha[%d]", i), a, 1)
		}
		for i, b := range cp.Beta {
			checkClip(fmt.Sprintf("grid.clip_product.beta[%d]", i), 1, b)
		}
		dup(cp.Alpha, "grid.clip_product.alpha", errs)
		dup(cp.Beta, "grid.clip_product.beta", errs)
	}
	seen := map[string]int{}
	for i, c := range clipSettings(g) {
		k := clipKey(c)
		if j, ok := seen[k]; ok {
			errs.add("grid.clip", "setting %d (%s) repeats setting %d", i, k, j)
		}
		seen[k] = i
	}
	for i, v := range g.SigmaR {
		if !finite(v) || v < 0 {
			errs.add(fmt.Sprintf("grid.sigma_r[%d]", i), "%v must be finite and >= 0", v)
		}
	}
	dup(g.SigmaR, "grid.sigma_r", errs)
	for i, v := range g.SigmaW {
		if !finite(v) || v < 0 {
			errs.add(fmt.Sprintf("grid.sigma_w[%d]", i), "%v must be finite and >= 0", v)
		}
	}
	dup(g.SigmaW, "grid.sigma_w", errs)
	fields := map[string]bool{}
	for i, ax := range g.Device {
		path := fmt.Sprintf("grid.device[%d]", i)
		switch {
		case ax.Field == "":
			errs.add(path+".field", "required")
			continue
		case ax.Field == "sigma_r" || ax.Field == "sigma_w":
			errs.add(path+".field", "%s has its own axis: use grid.%s", ax.Field, ax.Field)
			continue
		case !isProfileField(ax.Field):
			errs.add(path+".field", "%q is not a device-profile field", ax.Field)
			continue
		case fields[ax.Field]:
			errs.add(path+".field", "%q is already an axis", ax.Field)
		}
		fields[ax.Field] = true
		if len(ax.Values) == 0 {
			errs.add(path+".values", "needs at least one value")
		}
		for j, v := range ax.Values {
			p := *base
			if err := setProfileField(&p, ax.Field, v); err != nil {
				errs.add(fmt.Sprintf("%s.values[%d]", path, j), "%v", err)
				continue
			}
			if err := p.Validate(); err != nil {
				errs.add(fmt.Sprintf("%s.values[%d]", path, j), "%s", strings.TrimPrefix(err.Error(), crossbar.ErrProfile.Error()+": "))
			}
		}
	}
}

func dup(v []float64, path string, errs *fieldErrors) {
	seen := map[float64]int{}
	for i, x := range v {
		if j, ok := seen[x]; ok {
			errs.add(fmt.Sprintf("%s[%d]", path, i), "%v repeats %s[%d]", x, path, j)
		}
		seen[x] = i
	}
}

func clipKey(c *cfpb.ClipSetting) string {
	if c.Off {
		return "off"
	}
	return fmt.Sprintf("alpha %s beta %s", fmtFloat(c.Alpha), fmtFloat(c.Beta))
}

// BaseProfile is the simulator's default profile with the spec's fields set.
func BaseProfile(d *cfpb.DeviceProfile) (crossbar.Profile, error) {
	p := crossbar.Default()
	if d == nil {
		return p, p.Validate()
	}
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int32) {
		if v != nil {
			*dst = int(*v)
		}
	}
	setF(&p.Gmin, d.GminUs)
	setF(&p.Gmax, d.GmaxUs)
	setI(&p.BitsPerCell, d.BitsPerCell)
	setI(&p.Precision, d.PrecisionBits)
	setI(&p.InputBits, d.InputBits)
	setI(&p.Rows, d.CrossbarRows)
	setI(&p.Cols, d.CrossbarCols)
	if d.SigmaW != nil {
		p.SigmaW = crossbar.Some(*d.SigmaW)
	}
	setF(&p.SigmaR, d.SigmaR)
	if d.Granularity != nil {
		p.Granularity = crossbar.Granularity(*d.Granularity)
	}
	if d.ClampNegative != nil {
		p.ClampNegative = *d.ClampNegative
	}
	setI(&p.ADCBits, d.AdcBits)
	if d.WeightScale != nil {
		p.WeightScale = crossbar.WeightScale(*d.WeightScale)
	}
	if d.KvScale != nil {
		p.KVScale = crossbar.ScaleMode(*d.KvScale)
	}
	setF(&p.ProgrammingGamma, d.ProgrammingGamma)
	setI(&p.CalibrationImages, d.CalibrationImages)
	if len(d.OnCrossbar) > 0 {
		p.OnCrossbar = append([]string(nil), d.OnCrossbar...)
	}
	return p, p.Validate()
}

// isProfileField reports whether name is a YAML field of crossbar.Profile.
func isProfileField(name string) bool {
	var m map[string]any
	b, _ := yaml.Marshal(crossbar.Default())
	_ = yaml.Unmarshal(b, &m)
	_, ok := m[name]
	return ok
}

// setProfileField sets one field of p from its YAML text.
func setProfileField(p *crossbar.Profile, field, value string) error {
	var doc bytes.Buffer
	fmt.Fprintf(&doc, "%s: %s\n", field, value)
	if field == "on_crossbar" {
		p.OnCrossbar = nil
	}
	dec := yaml.NewDecoder(&doc)
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%q is not a valid %s", value, field)
		}
		return fmt.Errorf("%q: %s", value, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}
