package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/sim/crossbar"
)

func TestParseProfileOverridesDefaults(t *testing.T) {
	p, err := ParseProfile("dev.yaml", []byte("sigma_w: 0.05\ngranularity: value\non_crossbar: [qk, av]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := crossbar.Default()
	want.SigmaW = crossbar.Some(0.05)
	want.Granularity = crossbar.PerValue
	want.OnCrossbar = []string{"qk", "av"}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

func TestFormatProfileRoundTrips(t *testing.T) {
	p := crossbar.Default()
	p.ADCBits = 6
	p.KVScale = crossbar.Dynamic
	got, err := ParseProfile("x", []byte(FormatProfile(p)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip: got %+v want %+v", got, p)
	}
}

func TestParseProfileErrorsNameFileAndField(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"sigma_w: -1\n", "sigma_w"},
		{"sigmaw: 0.1\n", "sigmaw"},
		{"gmax_us: [1]\n", "line 1"},
		{"granularity: cell\n", "granularity"},
		{"on_crossbar: [qkv, softmax]\n", "on_crossbar[1]"},
		{"a: 1\n---\nb: 2\n", "a"},
	}
	for _, tc := range cases {
		_, err := ParseProfile("dev.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "dev.yaml") {
			t.Errorf("%q: got %v, want an error naming dev.yaml and %s", tc.yaml, err, tc.want)
		}
	}
}

func TestLoadProfileMissingFile(t *testing.T) {
	_, err := LoadProfile(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("got %v", err)
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte("adc_bits: 4\n"), 0o644)
	p, err := LoadProfile(path)
	if err != nil || p.ADCBits != 4 {
		t.Fatalf("got %+v, %v", p, err)
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(FormatProfile(crossbar.Default())))
	f.Add([]byte("sigma_w: 0.05\non_crossbar: [qk]\n"))
	f.Add([]byte("gmin_us: .inf\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile("fuzz.yaml", b)
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("accepted a profile that does not validate: %v", verr)
			}
		}
	})
}

// A profile that does not give sigma_w takes the calibration of its
// granularity, also when the granularity is changed after the file is read
// (`eval --profile f.yaml --granularity value`); one that gives sigma_w
// keeps it whatever the granularity.
func TestGranularityWithoutSigmaWTakesItsCalibration(t *testing.T) {
	cases := []struct {
		yaml    string
		setGran crossbar.Granularity // as a later flag would, or "" for none
		want    float64
	}{
		{"", "", crossbar.CalibratedSigmaWSlice},
		{"granularity: value\n", "", crossbar.CalibratedSigmaWValue},
		{"adc_bits: 4\n", crossbar.PerValue, crossbar.CalibratedSigmaWValue},
		{"granularity: slice\n", crossbar.PerValue, crossbar.CalibratedSigmaWValue},
		{"granularity: value\n", crossbar.PerSlice, crossbar.CalibratedSigmaWSlice},
		{"sigma_w: null\ngranularity: value\n", "", crossbar.CalibratedSigmaWValue},
		{"granularity: value\nsigma_w: 0.07\n", "", 0.07},
		{"sigma_w: 0.07\n", crossbar.PerValue, 0.07},
		{"sigma_w: 0.483\n", crossbar.PerValue, 0.483},
		{"sigma_w: 0\n", crossbar.PerValue, 0},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		path := filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))
		if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadProfile(path)
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if tc.setGran != "" {
			p.Granularity = tc.setGran
		}
		if got := p.EffectiveSigmaW(); got != tc.want {
			t.Errorf("%q then granularity %q: sigma_w %v, want %v", tc.yaml, tc.setGran, got, tc.want)
		}
	}
}

// --print-profile's output reads back as the same profile: an unset sigma_w
// stays unset (written as null, its value in a comment), a set one stays set.
func TestFormatProfileKeepsAnUnsetSigmaWUnset(t *testing.T) {
	out := FormatProfile(crossbar.Default())
	if !strings.Contains(out, "sigma_w: null # unset: 0.483, the calibrated value for granularity slice") {
		t.Fatalf("unset sigma_w printed as:\n%s", out)
	}
	p, err := ParseProfile("printed.yaml", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	p.Granularity = crossbar.PerValue
	if got := p.EffectiveSigmaW(); got != crossbar.CalibratedSigmaWValue {
		t.Fatalf("a printed default profile with granularity value: sigma_w %v, want %v", got, crossbar.CalibratedSigmaWValue)
	}
	set := crossbar.Default()
	set.SigmaW = crossbar.Some(0.2)
	if out := FormatProfile(set); !strings.Contains(out, "sigma_w: 0.2\n") {
		t.Fatalf("set sigma_w printed as:\n%s", out)
	}
}

func TestCostTableOverridesAttributeTheirSource(t *testing.T) {
	dir := t.TempDir()
	f := dir + "/c.yaml"
	os.WriteFile(f, []byte("adc_energy_pj_per_conversion: 2.5\nsources: {dac_area_mm2: my measurement}\n"), 0o644)
	tb, err := LoadCostTable(f)
	if err != nil {
		t.Fatal(err)
	}
	if tb.ADCEnergy != 2.5 || tb.Sources["adc_energy_pj_per_conversion"] != "set in "+f || tb.Sources["dac_area_mm2"] != "my measurement" ||
		tb.ADCArea != 0.0012 {
		t.Fatalf("%+v", tb)
	}
	os.WriteFile(f, []byte("adc_energy: 2.5\n"), 0o644)
	if _, err := LoadCostTable(f); err == nil {
		t.Fatal("unknown field accepted")
	}
	os.WriteFile(f, []byte("adc_area_mm2: -1\n"), 0o644)
	if _, err := LoadCostTable(f); err == nil {
		t.Fatal("negative area accepted")
	}
}
