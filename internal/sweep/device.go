package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/proto/cfpb"
)

// Device is a device profile with every field set: the simulator's
// defaults under the spec's values. It mirrors the simulator's
// crossbar.Profile field for field and YAML name for YAML name.
//
// The coordinator validates and plans specs without linking the simulator
// (its replicated state machine must not depend on numerics code), so it
// checks profiles against this description. The simulator stays the
// authority at run time; package simspec's tests hold the two to the same
// defaults, the same calibrated sigma_w per granularity and the same verdict
// on every field's bounds.
type Device struct {
	GminUS            float64  `yaml:"gmin_us"`
	GmaxUS            float64  `yaml:"gmax_us"`
	BitsPerCell       int      `yaml:"bits_per_cell"`
	PrecisionBits     int      `yaml:"precision_bits"`
	InputBits         int      `yaml:"input_bits"`
	CrossbarRows      int      `yaml:"crossbar_rows"`
	CrossbarCols      int      `yaml:"crossbar_cols"`
	SigmaW            float64  `yaml:"sigma_w"`
	SigmaR            float64  `yaml:"sigma_r"`
	Granularity       string   `yaml:"granularity"`
	ClampNegative     bool     `yaml:"clamp_negative"`
	ADCBits           int      `yaml:"adc_bits"`
	WeightScale       string   `yaml:"weight_scale"`
	KVScale           string   `yaml:"kv_scale"`
	ProgrammingGamma  float64  `yaml:"programming_gamma"`
	CalibrationImages int      `yaml:"calibration_images"`
	OnCrossbar        []string `yaml:"on_crossbar"`
}

// Calibrated write-noise scales per noise granularity (the simulator's
// crossbar.CalibratedSigmaWSlice and CalibratedSigmaWValue).
const (
	calibratedSigmaWSlice = 0.483
	calibratedSigmaWValue = 0.311
)

// crossbarPlaces are the places a profile's on_crossbar may name.
var crossbarPlaces = []string{"qkv", "proj", "fc1", "fc2", "qk", "av", "patch_embed", "head"}

// DefaultDevice is the simulator's default profile (crossbar.Default).
func DefaultDevice() Device {
	return Device{
		GminUS: 0.1, GmaxUS: 10,
		BitsPerCell: 2, PrecisionBits: 8, InputBits: 8,
		CrossbarRows: 64, CrossbarCols: 64,
		SigmaW: calibratedSigmaWSlice, SigmaR: 0,
		Granularity:       "slice",
		WeightScale:       "layer",
		KVScale:           "static",
		CalibrationImages: 256,
		OnCrossbar:        []string{"qkv", "proj", "fc1", "fc2", "qk", "av"},
	}
}

// DefaultSigmaW is the calibrated sigma_w of a granularity: what a profile
// gets when it names a granularity but no sigma_w.
func DefaultSigmaW(granularity string) float64 {
	if granularity == "value" {
		return calibratedSigmaWValue
	}
	return calibratedSigmaWSlice
}

// Validate reports the first invalid field, by its YAML name, in the words
// of crossbar.Profile.Validate.
func (d *Device) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%s: %v %s", field, v, why)
	}
	switch {
	case !(d.GminUS > 0) || math.IsInf(d.GminUS, 0):
		return bad("gmin_us", d.GminUS, "must be a positive finite conductance")
	case !(d.GmaxUS > d.GminUS) || math.IsInf(d.GmaxUS, 0):
		return bad("gmax_us", d.GmaxUS, fmt.Sprintf("must be finite and above gmin_us (%v)", d.GminUS))
	case d.BitsPerCell < 1 || d.BitsPerCell > 8:
		return bad("bits_per_cell", d.BitsPerCell, "must be in 1..8")
	case d.PrecisionBits < 1 || d.PrecisionBits > 16:
		return bad("precision_bits", d.PrecisionBits, "must be in 1..16")
	case d.InputBits < 1 || d.InputBits > 16:
		return bad("input_bits", d.InputBits, "must be in 1..16")
	case d.CrossbarRows < 1 || d.CrossbarRows > 1<<16:
		return bad("crossbar_rows", d.CrossbarRows, "must be in 1..65536")
	case d.CrossbarCols < 1 || d.CrossbarCols > 1<<16:
		return bad("crossbar_cols", d.CrossbarCols, "must be in 1..65536")
	case !(d.SigmaW >= 0) || math.IsInf(d.SigmaW, 0):
		return bad("sigma_w", d.SigmaW, "must be a finite number >= 0")
	case !(d.SigmaR >= 0) || math.IsInf(d.SigmaR, 0):
		return bad("sigma_r", d.SigmaR, "must be a finite number >= 0")
	case d.Granularity != "slice" && d.Granularity != "value":
		return bad("granularity", fmt.Sprintf("%q", d.Granularity), `must be "slice" or "value"`)
	case d.ADCBits < 0 || d.ADCBits > 24:
		return bad("adc_bits", d.ADCBits, "must be in 0..24 (0: ideal)")
	case d.WeightScale != "layer" && d.WeightScale != "column":
		return bad("weight_scale", fmt.Sprintf("%q", d.WeightScale), `must be "layer" or "column"`)
	case d.KVScale != "static" && d.KVScale != "dynamic":
		return bad("kv_scale", fmt.Sprintf("%q", d.KVScale), `must be "static" or "dynamic"`)
	case !(d.ProgrammingGamma >= 0) || math.IsInf(d.ProgrammingGamma, 0):
		return bad("programming_gamma", d.ProgrammingGamma, "must be a finite number >= 0")
	case d.CalibrationImages < 1 && d.KVScale == "static":
		return bad("calibration_images", d.CalibrationImages, "must be >= 1 with the static K/V scale")
	}
	for i, place := range d.OnCrossbar {
		if !slices.Contains(crossbarPlaces, place) {
			return bad(fmt.Sprintf("on_crossbar[%d]", i), fmt.Sprintf("%q", place), "is not one of "+strings.Join(crossbarPlaces, ", "))
		}
	}
	return nil
}

// BaseDevice is the default device with the spec profile's fields set. A
// granularity named without a sigma_w takes that granularity's calibrated
// sigma_w.
func BaseDevice(p *cfpb.DeviceProfile) (Device, error) {
	d := DefaultDevice()
	if p == nil {
		return d, d.Validate()
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
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setF(&d.GminUS, p.GminUs)
	setF(&d.GmaxUS, p.GmaxUs)
	setI(&d.BitsPerCell, p.BitsPerCell)
	setI(&d.PrecisionBits, p.PrecisionBits)
	setI(&d.InputBits, p.InputBits)
	setI(&d.CrossbarRows, p.CrossbarRows)
	setI(&d.CrossbarCols, p.CrossbarCols)
	setF(&d.SigmaR, p.SigmaR)
	setS(&d.Granularity, p.Granularity)
	if p.ClampNegative != nil {
		d.ClampNegative = *p.ClampNegative
	}
	setI(&d.ADCBits, p.AdcBits)
	setS(&d.WeightScale, p.WeightScale)
	setS(&d.KVScale, p.KvScale)
	d.SigmaW = DefaultSigmaW(d.Granularity)
	setF(&d.SigmaW, p.SigmaW)
	setF(&d.ProgrammingGamma, p.ProgrammingGamma)
	setI(&d.CalibrationImages, p.CalibrationImages)
	if len(p.OnCrossbar) > 0 {
		d.OnCrossbar = append([]string(nil), p.OnCrossbar...)
	}
	return d, d.Validate()
}

// deviceFields are the YAML names of the device profile's fields, in order.
func deviceFields() []string { return yamlFields(Device{}) }

// isDeviceField reports whether name is a device-profile field.
func isDeviceField(name string) bool { return slices.Contains(deviceFields(), name) }

// SetDeviceField sets one field of d from the YAML text of a device-axis
// value.
func SetDeviceField(d *Device, field, value string) error {
	var doc bytes.Buffer
	fmt.Fprintf(&doc, "%s: %s\n", field, value)
	if field == "on_crossbar" {
		d.OnCrossbar = nil // a value replaces the list, never extends it
	}
	dec := yaml.NewDecoder(&doc)
	dec.KnownFields(true)
	if err := dec.Decode(d); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%q is not a valid %s", value, field)
		}
		return fmt.Errorf("%q: %s", value, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}
