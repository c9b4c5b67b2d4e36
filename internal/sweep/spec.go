// Package sweep turns a sweep spec into work: it parses the YAML form,
// validates it with field paths in the errors, expands the grid into points
// and lays the shards out in dispatch order. The coordinator, the workers and
// the embedded runner all use it, so they agree on what shard k is.
package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// ErrSpec marks a spec that cannot be run; the message names the field.
var ErrSpec = errors.New("sweep: invalid spec")

// Defaults applied to fields a spec leaves out.
const (
	DefaultTrials         = 1
	DefaultSeed           = 1
	DefaultImagesPerShard = 500
	// DefaultMaxShards is the largest shard count a coordinator accepts
	// unless configured otherwise.
	DefaultMaxShards = 1_000_000
)

// specYAML is the YAML form of cfpb.SweepSpec: the same field names.
type specYAML struct {
	Name                string        `yaml:"name"`
	Model               modelYAML     `yaml:"model"`
	Dataset             datasetYAML   `yaml:"dataset"`
	Profile             *profileYAML  `yaml:"profile"`
	Grid                gridYAML      `yaml:"grid"`
	Trials              *int32        `yaml:"trials"`
	Seed                *uint64       `yaml:"seed"`
	ImagesPerShard      *int32        `yaml:"images_per_shard"`
	Priority            int32         `yaml:"priority"`
	MaxConcurrentShards int32         `yaml:"max_concurrent_shards"`
	Path                string        `yaml:"path"`
	Pruning             *pruningYAML  `yaml:"pruning"`
	Race                *raceYAML     `yaml:"race"`
	Adaptive            *adaptiveYAML `yaml:"adaptive"`
}

type pruningYAML struct {
	KeepRate float64 `yaml:"keep_rate"`
	Blocks   []int32 `yaml:"blocks"`
	Fuse     *bool   `yaml:"fuse"`
}

type modelYAML struct {
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
}

type datasetYAML struct {
	Kind  string `yaml:"kind"`
	Path  string `yaml:"path"`
	Split string `yaml:"split"`
	Limit int32  `yaml:"limit"`
}

type profileYAML struct {
	GminUS            *float64 `yaml:"gmin_us"`
	GmaxUS            *float64 `yaml:"gmax_us"`
	BitsPerCell       *int32   `yaml:"bits_per_cell"`
	PrecisionBits     *int32   `yaml:"precision_bits"`
	InputBits         *int32   `yaml:"input_bits"`
	CrossbarRows      *int32   `yaml:"crossbar_rows"`
	CrossbarCols      *int32   `yaml:"crossbar_cols"`
	SigmaW            *float64 `yaml:"sigma_w"`
	SigmaR            *float64 `yaml:"sigma_r"`
	Granularity       *string  `yaml:"granularity"`
	ClampNegative     *bool    `yaml:"clamp_negative"`
	ADCBits           *int32   `yaml:"adc_bits"`
	WeightScale       *string  `yaml:"weight_scale"`
	KVScale           *string  `yaml:"kv_scale"`
	ProgrammingGamma  *float64 `yaml:"programming_gamma"`
	CalibrationImages *int32   `yaml:"calibration_images"`
	OnCrossbar        []string `yaml:"on_crossbar"`
}

type gridYAML struct {
	Gamma       []float64        `yaml:"gamma"`
	Clip        []clipYAML       `yaml:"clip"`
	ClipProduct *clipProductYAML `yaml:"clip_product"`
	SigmaR      []float64        `yaml:"sigma_r"`
	SigmaW      []float64        `yaml:"sigma_w"`
	Device      []deviceAxisYAML `yaml:"device"`
}

// clipYAML is "off" or {alpha: A, beta: B}.
type clipYAML struct {
	Off         bool
	Alpha, Beta float64
}

func (c *clipYAML) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "off" {
			return fmt.Errorf("line %d: clip setting %q: want \"off\" or {alpha: A, beta: B}", n.Line, n.Value)
		}
		c.Off = true
		return nil
	}
	var v struct {
		Off   bool     `yaml:"off"`
		Alpha *float64 `yaml:"alpha"`
		Beta  *float64 `yaml:"beta"`
	}
	if err := n.Decode(&v); err != nil {
		return err
	}
	if v.Off {
		c.Off = true
		return nil
	}
	if v.Alpha == nil || v.Beta == nil {
		return fmt.Errorf("line %d: clip setting needs both alpha and beta (or \"off\")", n.Line)
	}
	c.Alpha, c.Beta = *v.Alpha, *v.Beta
	return nil
}

type clipProductYAML struct {
	Alpha      []float64 `yaml:"alpha"`
	Beta       []float64 `yaml:"beta"`
	IncludeOff bool      `yaml:"include_off"`
}

type deviceAxisYAML struct {
	Field  string      `yaml:"field"`
	Values []yaml.Node `yaml:"values"`
}

// MaxSpecBytes bounds a spec, as YAML or as an encoded message. A spec is
// a short list of axes; the cap keeps a malformed or hostile one from
// costing a parser or a coordinator more than a moment.
const MaxSpecBytes = 1 << 20

// Load reads a spec from a YAML file of at most MaxSpecBytes.
func Load(path string) (*cfpb.SweepSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	defer f.Close()
	// One byte more than the cap tells a file at the cap from a longer one
	// without reading all of a huge (or endless) file.
	b, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSpec, path, err)
	}
	return Parse(path, b)
}

// Parse reads a spec from YAML (name is used in errors), fills in the
// defaults and validates it.
func Parse(name string, b []byte) (*cfpb.SweepSpec, error) {
	y, err := decodeSpec(b)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrSpec, name, err)
	}
	s := y.proto()
	y.adaptiveProto(s)
	ApplyDefaults(s)
	// A zero written out is an error, not a request for the default.
	if y.Trials != nil {
		s.Trials = *y.Trials
	}
	if y.ImagesPerShard != nil {
		s.ImagesPerShard = *y.ImagesPerShard
	}
	if err := Validate(s, Limits{}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// errEmpty is the message for a spec without content (an empty file, or only
// comments).
var errEmpty = errors.New("the spec is empty (no YAML content); a spec needs at least model, dataset and grid")

// decodeSpec decodes one YAML document, checked against the spec's schema.
func decodeSpec(b []byte) (*specYAML, error) {
	if len(b) > MaxSpecBytes {
		return nil, fmt.Errorf("the spec is over the limit of %d bytes (sweep.MaxSpecBytes)", MaxSpecBytes)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty
		}
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("more than one YAML document (a second starts at line %d)", extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.DocumentNode || root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, errEmpty
	}
	var errs fieldErrors
	checkSchema(root, reflect.TypeOf(specYAML{}), "", &errs)
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	var y specYAML
	if err := root.Decode(&y); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return &y, nil
}

func (y *specYAML) proto() *cfpb.SweepSpec {
	s := &cfpb.SweepSpec{
		Name:                y.Name,
		Model:               &cfpb.ModelRef{Path: y.Model.Path, Sha256: strings.ToLower(y.Model.SHA256)},
		Dataset:             &cfpb.DatasetRef{Kind: y.Dataset.Kind, Path: y.Dataset.Path, Split: y.Dataset.Split, Limit: y.Dataset.Limit},
		Priority:            y.Priority,
		MaxConcurrentShards: y.MaxConcurrentShards,
		Path:                y.Path,
		Grid:                &cfpb.Grid{Gamma: y.Grid.Gamma, SigmaR: y.Grid.SigmaR, SigmaW: y.Grid.SigmaW},
	}
	if y.Trials != nil {
		s.Trials = *y.Trials
	}
	if y.Seed != nil {
		s.Seed = *y.Seed
	} else {
		s.Seed = DefaultSeed
	}
	if y.ImagesPerShard != nil {
		s.ImagesPerShard = *y.ImagesPerShard
	}
	if p := y.Pruning; p != nil {
		fuse := true // EViT's default
		if p.Fuse != nil {
			fuse = *p.Fuse
		}
		s.Pruning = &cfpb.Pruning{KeepRate: p.KeepRate, Blocks: p.Blocks, Fuse: fuse}
	}
	if p := y.Profile; p != nil {
		s.Profile = &cfpb.DeviceProfile{
			GminUs: p.GminUS, GmaxUs: p.GmaxUS, BitsPerCell: p.BitsPerCell, PrecisionBits: p.PrecisionBits,
			InputBits: p.InputBits, CrossbarRows: p.CrossbarRows, CrossbarCols: p.CrossbarCols,
			SigmaW: p.SigmaW, SigmaR: p.SigmaR, Granularity: p.Granularity, ClampNegative: p.ClampNegative,
			AdcBits: p.ADCBits, WeightScale: p.WeightScale, KvScale: p.KVScale,
			ProgrammingGamma: p.ProgrammingGamma, CalibrationImages: p.CalibrationImages, OnCrossbar: p.OnCrossbar,
		}
	}
	for _, c := range y.Grid.Clip {
		s.Grid.Clip = append(s.Grid.Clip, &cfpb.ClipSetting{Off: c.Off, Alpha: c.Alpha, Beta: c.Beta})
	}
	if cp := y.Grid.ClipProduct; cp != nil {
		s.Grid.ClipProduct = &cfpb.ClipProduct{Alpha: cp.Alpha, Beta: cp.Beta, IncludeOff: cp.IncludeOff}
	}
	for _, d := range y.Grid.Device {
		ax := &cfpb.DeviceAxis{Field: d.Field}
		for _, v := range d.Values {
			ax.Values = append(ax.Values, scalarText(&v))
		}
		s.Grid.Device = append(s.Grid.Device, ax)
	}
	return s
}

// scalarText keeps a YAML value as written; lists are re-encoded as YAML.
func scalarText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ApplyDefaults fills the fields a spec may leave out.
func ApplyDefaults(s *cfpb.SweepSpec) {
	if s.Trials == 0 {
		s.Trials = DefaultTrials
	}
	if s.ImagesPerShard == 0 {
		s.ImagesPerShard = DefaultImagesPerShard
	}
	if s.Grid == nil {
		s.Grid = &cfpb.Grid{}
	}
	if s.Dataset != nil && s.Dataset.Split == "" {
		s.Dataset.Split = "test"
	}
	if len(s.Grid.Clip) == 0 && s.Grid.ClipProduct == nil {
		s.Grid.Clip = []*cfpb.ClipSetting{{Off: true}}
	}
	applyAdaptiveDefaults(s)
}

// fmtFloat writes v as YAML and Go would read it back.
func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
