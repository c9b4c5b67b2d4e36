package sweep

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/internal/device"
)

// nonDefault is, per device-profile field, a valid value other than the
// default.
var nonDefault = map[string]string{
	"gmin_us": "0.2", "gmax_us": "20", "bits_per_cell": "1", "precision_bits": "6", "input_bits": "4",
	"crossbar_rows": "128", "crossbar_cols": "32", "sigma_w": "0.2", "sigma_r": "0.01", "granularity": "value",
	"clamp_negative": "true", "adc_bits": "6", "weight_scale": "column", "kv_scale": "dynamic",
	"programming_gamma": "1.5", "calibration_images": "16", "on_crossbar": "[qk, av]",
}

// Every field of the device profile can be written in a spec's profile, and
// reaches the profile the sweep plans and runs with: the spec's message
// carries each field, and BaseDevice copies each one.
func TestEverySpecProfileFieldReachesTheDeviceProfile(t *testing.T) {
	fields := deviceFields()
	if got := slices.Sorted(maps.Keys(nonDefault)); !slices.Equal(got, slices.Sorted(slices.Values(fields))) {
		t.Fatalf("the test covers %v; the profile has %v", got, fields)
	}
	for _, f := range fields {
		s, err := Parse("p.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1]}\nprofile:\n  "+f+": "+nonDefault[f]+"\n"))
		if err != nil {
			t.Errorf("profile field %s: %v", f, err)
			continue
		}
		got, err := BaseDevice(s.Profile)
		if err != nil {
			t.Errorf("profile field %s: %v", f, err)
			continue
		}
		want := device.Default()
		if err := SetDeviceField(&want, f, nonDefault[f]); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(want, device.Default()) {
			t.Fatalf("%s: %s is the default", f, nonDefault[f])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("profile field %s: %s gives\n%+v\nwant\n%+v", f, nonDefault[f], got, want)
		}
	}
}

// A profile error in a spec names the field without the device package's
// prefix: the spec's path already says that it is the profile.
func TestProfileErrorsReadAsSpecErrors(t *testing.T) {
	_, err := Parse("p.yaml", []byte("model: {path: m}\ndataset: {kind: mnist}\ngrid: {gamma: [1]}\nprofile: {bits_per_cell: 99}\n"))
	if err == nil || !strings.Contains(err.Error(), "profile: bits_per_cell: 99 must be in 1..8") || strings.Contains(err.Error(), device.ErrProfile.Error()) {
		t.Fatalf("err = %v, want \"profile: bits_per_cell: 99 must be in 1..8\" without %q", err, device.ErrProfile)
	}
}
