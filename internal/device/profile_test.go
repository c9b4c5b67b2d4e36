package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestProfileValidateNamesTheField(t *testing.T) {
	cases := []struct {
		edit func(*Profile)
		want string
	}{
		{func(p *Profile) { p.Gmin = 0 }, "gmin_us"},
		{func(p *Profile) { p.Gmax = 0.05 }, "gmax_us"},
		{func(p *Profile) { p.BitsPerCell = 0 }, "bits_per_cell"},
		{func(p *Profile) { p.SigmaW = Some(math.NaN()) }, "sigma_w"},
		{func(p *Profile) { p.SigmaW = Some(-0.1) }, "sigma_w"},
		{func(p *Profile) { p.Granularity = "cell" }, "granularity"},
		{func(p *Profile) { p.KVScale = "x" }, "kv_scale"},
		{func(p *Profile) { p.OnCrossbar = []string{"qkv", "softmax"} }, "on_crossbar[1]"},
	}
	for _, tc := range cases {
		p := Default()
		tc.edit(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrProfile) {
			t.Errorf("got %v, want an ErrProfile naming %s", err, tc.want)
		}
	}
	// The coordinator says where a profile came from itself and takes the
	// message without the package's prefix.
	p := Default()
	p.Gmax = 0.05
	var fe *FieldError
	if err := p.Validate(); !errors.As(err, &fe) || fe.Reason() != "gmax_us: 0.05 must be finite and above gmin_us (0.1)" ||
		err.Error() != "device: invalid profile: "+fe.Reason() {
		t.Errorf("got %v, want a *FieldError whose reason is the field's message", err)
	}
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("default profile: %v", err)
	}
}

// A profile without sigma_w takes the calibrated value of its granularity,
// whenever the granularity is set; a set sigma_w stays. JSON, a record of a
// run, states the value used.
func TestUnsetSigmaWTakesTheGranularitysCalibration(t *testing.T) {
	p := Default()
	if got := p.EffectiveSigmaW(); got != CalibratedSigmaWSlice {
		t.Fatalf("default profile: sigma_w %v, want %v", got, CalibratedSigmaWSlice)
	}
	p.Granularity = PerValue
	if got := p.EffectiveSigmaW(); got != CalibratedSigmaWValue {
		t.Fatalf("default profile with granularity value: sigma_w %v, want %v", got, CalibratedSigmaWValue)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"sigma_w":%v`, CalibratedSigmaWValue); !strings.Contains(string(b), want) {
		t.Fatalf("JSON %s lacks %s", b, want)
	}
	if _, set := p.SigmaW.Get(); set {
		t.Fatal("marshalling set the profile's own sigma_w")
	}
	p.SigmaW = Some(0.483)
	if got := p.EffectiveSigmaW(); got != 0.483 {
		t.Fatalf("sigma_w set to 0.483 with granularity value: %v", got)
	}
	var o OptFloat
	for _, tc := range []struct {
		in   string
		want OptFloat
	}{{"0.25", Some(0.25)}, {"null", OptFloat{}}, {"0", Some(0)}} {
		if err := json.Unmarshal([]byte(tc.in), &o); err != nil || o != tc.want {
			t.Errorf("JSON %s: got %v (%v), want %v", tc.in, o, err, tc.want)
		}
	}
}
