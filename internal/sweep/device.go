package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clipformer/clipformer/internal/device"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// BaseDevice is the default device profile with the spec profile's fields
// set. A sigma_w the spec leaves out stays unset, so that every point takes
// the calibrated sigma_w of its own granularity (device.Profile's
// EffectiveSigmaW), whether the profile or a device axis sets it.
//
// The coordinator validates and plans with this profile, the worker runs
// the simulator with it: both read the one description in package device.
func BaseDevice(p *cfpb.DeviceProfile) (device.Profile, error) {
	d := device.Default()
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
	setF(&d.Gmin, p.GminUs)
	setF(&d.Gmax, p.GmaxUs)
	setI(&d.BitsPerCell, p.BitsPerCell)
	setI(&d.Precision, p.PrecisionBits)
	setI(&d.InputBits, p.InputBits)
	setI(&d.Rows, p.CrossbarRows)
	setI(&d.Cols, p.CrossbarCols)
	if p.SigmaW != nil {
		d.SigmaW = device.Some(*p.SigmaW)
	}
	setF(&d.SigmaR, p.SigmaR)
	if p.Granularity != nil {
		d.Granularity = device.Granularity(*p.Granularity)
	}
	if p.ClampNegative != nil {
		d.ClampNegative = *p.ClampNegative
	}
	setI(&d.ADCBits, p.AdcBits)
	if p.WeightScale != nil {
		d.WeightScale = device.WeightScale(*p.WeightScale)
	}
	if p.KvScale != nil {
		d.KVScale = device.ScaleMode(*p.KvScale)
	}
	setF(&d.ProgrammingGamma, p.ProgrammingGamma)
	setI(&d.CalibrationImages, p.CalibrationImages)
	if len(p.OnCrossbar) > 0 {
		d.OnCrossbar = slices.Clone(p.OnCrossbar)
	}
	return d, d.Validate()
}

// deviceFields are the YAML names of the device profile's fields, in order.
func deviceFields() []string { return yamlFields(device.Profile{}) }

// isDeviceField reports whether name is a device-profile field.
func isDeviceField(name string) bool { return slices.Contains(deviceFields(), name) }

// SetDeviceField sets one field of d from the YAML text of a device-axis
// value. It decodes only; d.Validate judges the result.
func SetDeviceField(d *device.Profile, field, value string) error {
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

// profileReason is a profile error as a spec error reports it: without the
// device package's prefix, since the spec's field path already says that
// the profile is what is wrong.
func profileReason(err error) string {
	if fe, ok := errors.AsType[*device.FieldError](err); ok {
		return fe.Reason()
	}
	return err.Error()
}
