// Package config reads the YAML files a user writes: the device profile and
// the hardware cost table (sweep specs are package sweep's). It turns them into the simulator's plain structs
// and reports bad input with the file, line and field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/sim/cost"
	"github.com/clipformer/clipformer/sim/crossbar"
)

// ErrProfileFile marks a device-profile file that cannot be used.
var ErrProfileFile = errors.New("config: bad device profile")

// LoadProfile reads a device profile from a YAML file. Fields it omits keep
// crossbar.Default()'s values; a sigma_w it omits stays unset, so that the
// profile takes the calibration of whatever granularity it ends up with
// (crossbar.Profile.EffectiveSigmaW), even one a flag sets later.
func LoadProfile(path string) (crossbar.Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return crossbar.Profile{}, fmt.Errorf("%w: %v", ErrProfileFile, err)
	}
	return ParseProfile(path, b)
}

// ParseProfile parses a device profile; name is used in errors.
func ParseProfile(name string, b []byte) (crossbar.Profile, error) {
	p := crossbar.Default()
	if len(bytes.TrimSpace(b)) == 0 {
		return p, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// on_crossbar replaces, never appends to, the default list.
	var raw struct {
		crossbar.Profile `yaml:",inline"`
	}
	raw.Profile = p
	raw.OnCrossbar = nil
	if err := dec.Decode(&raw); err != nil {
		return p, fmt.Errorf("%w %s: %s", ErrProfileFile, name, yamlMessage(err))
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return p, fmt.Errorf("%w %s: more than one YAML document", ErrProfileFile, name)
	}
	if raw.OnCrossbar == nil {
		raw.OnCrossbar = p.OnCrossbar
	}
	if err := raw.Profile.Validate(); err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	return raw.Profile, nil
}

// yamlMessage strips the library's prefix so the message reads as ours.
func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// FormatProfile writes p as YAML with every field, for `--print-profile`. An
// unset sigma_w is written as null, which reads back as unset, with the
// value it resolves to in a comment.
func FormatProfile(p crossbar.Profile) string {
	var doc yaml.Node
	if err := doc.Encode(p); err != nil {
		panic(err) // a plain struct always encodes
	}
	if _, set := p.SigmaW.Get(); !set {
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "sigma_w" {
				doc.Content[i+1].LineComment = fmt.Sprintf("# unset: %g, the calibrated value for granularity %s", p.EffectiveSigmaW(), p.Granularity)
			}
		}
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// LoadCostTable reads a hardware cost table from YAML; fields it omits keep
// cost.Default()'s figures, and a figure it sets without a source is
// attributed to the file.
func LoadCostTable(path string) (cost.Table, error) {
	t := cost.Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return t, fmt.Errorf("config: cost table: %v", err)
	}
	var keys map[string]any
	if err := yaml.Unmarshal(b, &keys); err != nil {
		return t, fmt.Errorf("config: cost table %s: %s", path, yamlMessage(err))
	}
	sources := t.Sources
	t.Sources = nil
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil && err.Error() != "EOF" {
		return cost.Default(), fmt.Errorf("config: cost table %s: %s", path, yamlMessage(err))
	}
	given := t.Sources
	t.Sources = sources
	for k := range keys {
		if k == "sources" || k == "node" {
			continue
		}
		t.Sources[k] = "set in " + path
	}
	for k, v := range given {
		t.Sources[k] = v
	}
	if err := t.Validate(); err != nil {
		return cost.Default(), fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
