package sweep

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/clipformer/clipformer/internal/device"
	"github.com/clipformer/clipformer/proto/cfpb"
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
	// The size comes first and costs nothing: no check below may cost more
	// than the spec's own length, and no list is expanded.
	if n := proto.Size(s); n > MaxSpecBytes {
		return fmt.Errorf("%w: spec: %d bytes encoded, over the limit of %d", ErrSpec, n, MaxSpecBytes)
	}
	if err := checkShardCount(s, lim); err != nil {
		return err
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
	base, perr := BaseDevice(s.Profile)
	if perr != nil {
		errs.add("profile", "%s", profileReason(perr))
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
		validateGrid(s.Grid, &base, s.Path, &errs)
	}
	validateAdaptive(s, &errs)
	return errs.err()
}

// checkShardCount refuses a sweep over the shard limit with its size,
// computed from the axes' lengths without expanding anything. It leaves
// specs whose size is undefined (no dataset, no trials) to the field checks.
func checkShardCount(s *cfpb.SweepSpec, lim Limits) error {
	if s.Grid == nil || s.Trials < 1 || s.ImagesPerShard < 1 {
		return nil
	}
	images, err := Images(s.Dataset)
	if err != nil || images < 1 {
		return nil
	}
	maxShards := lim.MaxShards
	if maxShards == 0 {
		maxShards = DefaultMaxShards
	}
	chunks := (int64(images) + int64(s.ImagesPerShard) - 1) / int64(s.ImagesPerShard)
	points := pointCount(s.Grid)
	n := mulCapped(mulCapped(points, int64(s.Trials)), chunks)
	if n <= maxShards {
		return nil
	}
	return fmt.Errorf("%w: %s: %s points x %s trials x %s image ranges of %s = %s shards, over the limit of %s "+
		"(fewer grid values, fewer trials, a larger images_per_shard or the coordinator's --max-shards)",
		ErrSpec, gridSizeText(s.Grid), thousands(points), thousands(int64(s.Trials)), thousands(chunks),
		thousands(int64(s.ImagesPerShard)), thousands(n), thousands(maxShards))
}

// gridSizeText says how the grid's point count arises, naming the field
// that contributes most, e.g. "grid.clip_product: 1000 alphas x 1000 betas
// + off = 1,000,001 settings; x 6 gamma".
func gridSizeText(g *cfpb.Grid) string {
	var parts []string
	clips := fmt.Sprintf("%s clip settings", thousands(clipCount(g)))
	if cp := g.ClipProduct; cp != nil {
		off := ""
		if cp.IncludeOff {
			off = " + off"
		}
		explicit := ""
		if len(g.Clip) > 0 {
			explicit = fmt.Sprintf(" + %d in grid.clip", len(g.Clip))
		}
		clips = fmt.Sprintf("grid.clip_product: %s alphas x %s betas%s%s = %s clip settings",
			thousands(int64(len(cp.Alpha))), thousands(int64(len(cp.Beta))), off, explicit, thousands(clipCount(g)))
	}
	parts = append(parts, clips, fmt.Sprintf("%s gamma", thousands(int64(len(g.Gamma)))))
	if len(g.SigmaR) > 1 {
		parts = append(parts, fmt.Sprintf("%d sigma_r", len(g.SigmaR)))
	}
	if len(g.SigmaW) > 1 {
		parts = append(parts, fmt.Sprintf("%d sigma_w", len(g.SigmaW)))
	}
	for _, ax := range g.Device {
		parts = append(parts, fmt.Sprintf("%d %s", len(ax.Values), ax.Field))
	}
	return strings.Join(parts, " x ")
}

// thousands writes n with comma separators: 1,000,001.
func thousands(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9.2e18"
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// pointCount is the number of grid points, saturating at MaxInt64.
func pointCount(g *cfpb.Grid) int64 {
	n := int64(len(g.Gamma))
	n = mulCapped(n, clipCount(g))
	n = mulCapped(n, int64(max(len(g.SigmaR), 1)))
	n = mulCapped(n, int64(max(len(g.SigmaW), 1)))
	for _, ax := range g.Device {
		n = mulCapped(n, int64(len(ax.Values)))
	}
	return n
}

// clipCount is the number of ClipFormer settings, saturating at MaxInt64.
func clipCount(g *cfpb.Grid) int64 {
	n := int64(len(g.Clip))
	if cp := g.ClipProduct; cp != nil {
		if cp.IncludeOff {
			n++
		}
		n = addCapped(n, mulCapped(int64(len(cp.Alpha)), int64(len(cp.Beta))))
	}
	return n
}

func addCapped(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
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

func validateGrid(g *cfpb.Grid, base *device.Profile, path string, errs *fieldErrors) {
	// Rules that join two fields (gmax_us above gmin_us, an ADC and the
	// fast path, clip betas and gmin_us/gmax_us) hold for every combination
	// of the device axes' values, not only for each value on the base.
	lowBeta := base.Gmin / base.Gmax
	if axes, ok := validateDeviceAxes(g, base, errs); ok {
		lowBeta = checkVariants(base, axes, path, errs)
	}
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
		if !(beta >= lowBeta && beta <= 1) {
			errs.add(path+".beta", "%v is outside [%g, 1]", beta, lowBeta)
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
	dupClips(g, errs)
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

// dupClips reports ClipFormer settings that repeat one another, in the
// order clipSettings lists them, without expanding the product: its own
// entries are distinct once its alpha and beta lists are, so only the
// explicit settings need a look.
func dupClips(g *cfpb.Grid, errs *fieldErrors) {
	seen := map[string]int{}
	for i, c := range g.Clip {
		k := clipKey(c)
		if j, ok := seen[k]; ok {
			errs.add("grid.clip", "setting %d (%s) repeats setting %d", i, k, j)
		}
		seen[k] = i
	}
	cp := g.ClipProduct
	if cp == nil {
		return
	}
	first := len(g.Clip) // the product's first setting
	if cp.IncludeOff {
		if j, ok := seen["off"]; ok {
			errs.add("grid.clip", "setting %d (off) repeats setting %d", first, j)
		}
		first++
	}
	alphas, betas := firstIndex(cp.Alpha), firstIndex(cp.Beta)
	for i, c := range g.Clip {
		if c.Off {
			continue
		}
		ia, okA := alphas[c.Alpha]
		ib, okB := betas[c.Beta]
		if okA && okB {
			errs.add("grid.clip", "setting %d (%s) repeats setting %d", first+ia*len(cp.Beta)+ib, clipKey(c), i)
		}
	}
}

// firstIndex maps each value to the index of its first occurrence.
func firstIndex(v []float64) map[float64]int {
	m := make(map[float64]int, len(v))
	for i, x := range v {
		if _, ok := m[x]; !ok {
			m[x] = i
		}
	}
	return m
}

func clipKey(c *cfpb.ClipSetting) string {
	if c.Off {
		return "off"
	}
	return fmt.Sprintf("alpha %s beta %s", fmtFloat(c.Alpha), fmtFloat(c.Beta))
}
