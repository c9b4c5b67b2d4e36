package simspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/internal/sweep"
	"github.com/clipformer/clipformer/proto/cfpb"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
)

func parse(t *testing.T, y string) *cfpb.SweepSpec {
	t.Helper()
	s, err := sweep.Parse("s.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeviceAxisReachesTheSetting(t *testing.T) {
	s := parse(t, `
model: {path: m}
dataset: {kind: mnist, limit: 10}
profile: {sigma_w: 0.05}
grid:
  gamma: [4]
  sigma_r: [0, 0.02]
  device: [{field: granularity, values: [slice, value]}, {field: adc_bits, values: [0, 6]}]
path: reference
`)
	points, err := sweep.Points(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 8 {
		t.Fatalf("%d points, want 8", len(points))
	}
	st, err := Setting(s, points[7], 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Profile.Granularity != "value" || st.Profile.ADCBits != 6 || st.Profile.SigmaR != 0.02 ||
		st.Profile.EffectiveSigmaW() != 0.05 || st.Gamma != 4 || st.Trial != 2 || st.Seed != 1 {
		t.Fatalf("setting %+v", st)
	}
}

func TestEachGranularityTakesItsCalibratedSigmaWInTheSetting(t *testing.T) {
	s := parse(t, "model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [4], device: [{field: granularity, values: [slice, value]}]}\n")
	ps, err := sweep.Points(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{crossbar.CalibratedSigmaWSlice, crossbar.CalibratedSigmaWValue} {
		st, err := Setting(s, ps[i], 0)
		if err != nil {
			t.Fatal(err)
		}
		if st.Profile.EffectiveSigmaW() != want {
			t.Errorf("point %d (%s): sigma_w %v, want %v", i, st.Profile.Granularity, st.Profile.EffectiveSigmaW(), want)
		}
	}
}

func TestPruningReachesTheSetting(t *testing.T) {
	s := parse(t, "model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [5]}\npruning: {keep_rate: 0.7, blocks: [1, 3]}\n")
	ps, _ := sweep.Points(s)
	st, err := Setting(s, ps[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Prune.KeepRate != 0.7 || len(st.Prune.Blocks) != 2 || st.Prune.Blocks[1] != 3 || !st.Prune.Fuse {
		t.Fatalf("prune %+v (fuse defaults to true, as in EViT)", st.Prune)
	}
}

func TestSummaryRoundTripsAResult(t *testing.T) {
	var a, b sim.ExactSum
	a.Add(0.125)
	b.Add(-7)
	r := &sim.Result{Images: 9, Correct: 4, Signal: []sim.ExactSum{a, b}, Noise: []sim.ExactSum{b, a}}
	got := Result(Summarize(r))
	if got.Images != 9 || got.Correct != 4 || !slices.Equal(got.Signal, r.Signal) || !slices.Equal(got.Noise, r.Noise) {
		t.Fatalf("round trip %+v, want %+v", got, r)
	}
}

// yamlMap is a profile as its YAML fields.
func yamlMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The coordinator checks specs against sweep.Device, a description of the
// simulator's profile that does not link it. These tests hold the two to
// the same fields, defaults and verdicts.

func TestSweepDeviceHasTheSimulatorsFieldsAndDefaults(t *testing.T) {
	want := yamlMap(t, crossbar.Default().Resolved())
	got := yamlMap(t, sweep.DefaultDevice())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sweep.DefaultDevice()\n%v\nwant crossbar.Default()\n%v", got, want)
	}
	for _, g := range []crossbar.Granularity{crossbar.PerSlice, crossbar.PerValue, "other"} {
		if got, want := sweep.DefaultSigmaW(string(g)), (&crossbar.Profile{Granularity: g}).EffectiveSigmaW(); got != want {
			t.Errorf("granularity %q: sweep sigma_w %v, crossbar %v", g, got, want)
		}
	}
	// Every profile field can be written in a spec's profile.
	for _, field := range slices.Sorted(maps.Keys(want)) {
		v, _ := json.Marshal(want[field]) // JSON is YAML's flow style
		y := fmt.Sprintf("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1]}\nprofile:\n  %s: %s", field, v)
		if _, err := sweep.Parse("p.yaml", []byte(y)); err != nil {
			t.Errorf("profile field %s: %v", field, err)
		}
	}
}

// edgeValues are, per profile field, values on and beyond its bounds.
var edgeValues = map[string][]string{
	"gmin_us":            {"0", "-1", "1e-9", "9.99", "10", ".inf", ".nan"},
	"gmax_us":            {"0.1", "0.2", "1e9", ".inf", "-3"},
	"bits_per_cell":      {"0", "1", "8", "9", "-1"},
	"precision_bits":     {"0", "1", "16", "17"},
	"input_bits":         {"0", "1", "16", "17"},
	"crossbar_rows":      {"0", "1", "65536", "65537"},
	"crossbar_cols":      {"0", "1", "65536", "65537"},
	"sigma_w":            {"0", "-0.1", "3", ".inf", ".nan"},
	"sigma_r":            {"0", "-0.1", "0.05", ".inf"},
	"granularity":        {"slice", "value", "cell", `""`},
	"clamp_negative":     {"true", "false"},
	"adc_bits":           {"0", "-1", "24", "25"},
	"weight_scale":       {"layer", "column", "row"},
	"kv_scale":           {"static", "dynamic", "fixed"},
	"programming_gamma":  {"0", "-1", "2.5", ".inf"},
	"calibration_images": {"0", "1", "-5"},
	"on_crossbar":        {"[]", "[qkv]", "[head, patch_embed]", "[qkv, attention]"},
}

func TestSweepDeviceGivesTheSimulatorsVerdictOnEveryField(t *testing.T) {
	fields := slices.Sorted(maps.Keys(yamlMap(t, crossbar.Default())))
	if got := slices.Sorted(maps.Keys(edgeValues)); !slices.Equal(got, fields) {
		t.Fatalf("edge values cover %v, the profile has %v", got, fields)
	}
	bases := map[string]string{"default": "", "dynamic K/V": "kv_scale", "value granularity": "granularity"}
	for name, field := range bases {
		for _, f := range fields {
			for _, v := range edgeValues[f] {
				d, p := sweep.DefaultDevice(), crossbar.Default()
				switch field { // a second field set first, for the rules that join two
				case "kv_scale":
					mustSet(t, &d, &p, field, "dynamic")
				case "granularity":
					mustSet(t, &d, &p, field, "value")
				}
				errD := sweep.SetDeviceField(&d, f, v)
				errP := setProfileField(&p, f, v)
				if (errD == nil) != (errP == nil) {
					t.Errorf("%s, %s: %s: sweep says %v, the simulator %v", name, f, v, errD, errP)
					continue
				}
				if errD != nil {
					continue
				}
				errD, errP = d.Validate(), p.Validate()
				if (errD == nil) != (errP == nil) {
					t.Errorf("%s, %s: %s: sweep says %v, the simulator %v", name, f, v, errD, errP)
				}
				if errD != nil && errP != nil && errD.Error() != trimProfile(errP) {
					t.Errorf("%s, %s: %s: sweep says %q, the simulator %q", name, f, v, errD, trimProfile(errP))
				}
			}
		}
	}
}

func mustSet(t *testing.T, d *sweep.Device, p *crossbar.Profile, field, value string) {
	t.Helper()
	if err := errors.Join(sweep.SetDeviceField(d, field, value), setProfileField(p, field, value)); err != nil {
		t.Fatal(err)
	}
}

func trimProfile(err error) string {
	s := err.Error()
	if p := crossbar.ErrProfile.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func TestBaseDeviceAgreesWithTheSimulatorsProfile(t *testing.T) {
	f, i, g := 0.2, int32(4), "value"
	for name, p := range map[string]*cfpb.DeviceProfile{
		"none":                      nil,
		"empty":                     {},
		"granularity, no sigma_w":   {Granularity: &g},
		"granularity and sigma_w":   {Granularity: &g, SigmaW: &f},
		"several fields":            {GminUs: &f, AdcBits: &i, OnCrossbar: []string{"qk", "av"}},
		"invalid: bits_per_cell 99": {BitsPerCell: ptr(int32(99))},
	} {
		d, errD := sweep.BaseDevice(p)
		c, errP := Profile(p)
		if (errD == nil) != (errP == nil) {
			t.Errorf("%s: sweep says %v, the simulator %v", name, errD, errP)
			continue
		}
		if got, want := yamlMap(t, d), yamlMap(t, c.Resolved()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: sweep resolves\n%v\nthe simulator\n%v", name, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzAcceptedSpecsResolve holds the coordinator's validation to the
// simulator's: every point of a spec that sweep accepts resolves to a
// simulator setting.
func FuzzAcceptedSpecsResolve(f *testing.F) {
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1], device: [{field: adc_bits, values: [0, 4]}]}"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\nprofile: {gmin_us: 1, gmax_us: 2}\ngrid: {gamma: [1], clip: [{alpha: 1, beta: 0.5}]}"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\npath: fast\nprofile: {adc_bits: 4}\ngrid: {gamma: [1]}"))
	f.Add([]byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1], device: [{field: gmax_us, values: [0.5, 20]}], clip: [{alpha: 2, beta: 0.02}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := sweep.Parse("fuzz.yaml", b)
		if err != nil {
			return
		}
		points, err := sweep.Points(s)
		if err != nil {
			t.Fatalf("accepted spec does not expand: %v", err)
		}
		for i, p := range points[:min(len(points), 64)] {
			if _, err := Setting(s, p, 0); err != nil {
				t.Fatalf("point %d of an accepted spec: %v", i, err)
			}
		}
	})
}
