package sweep

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/clipformer/clipformer/internal/device"
	"github.com/clipformer/clipformer/proto/cfpb"
)

// deviceAxis is a device axis with its values decoded once.
type deviceAxis struct {
	field  string
	index  int             // the field's index in device.Profile
	values []reflect.Value // the field's value for each axis value
}

// validateDeviceAxes checks each device axis and each of its values on the
// base profile, and returns the decoded axes when all are valid.
func validateDeviceAxes(g *cfpb.Grid, base *device.Profile, errs *fieldErrors) ([]deviceAxis, bool) {
	before := len(*errs)
	seen := map[string]bool{}
	var axes []deviceAxis
	for i, ax := range g.Device {
		path := fmt.Sprintf("grid.device[%d]", i)
		switch {
		case ax.Field == "":
			errs.add(path+".field", "required")
			continue
		case ax.Field == "sigma_r" || ax.Field == "sigma_w":
			errs.add(path+".field", "%s has its own axis: use grid.%s", ax.Field, ax.Field)
			continue
		case !isDeviceField(ax.Field):
			errs.add(path+".field", "%q is not a device-profile field; the fields are %s", ax.Field, strings.Join(deviceFields(), ", "))
			continue
		case seen[ax.Field]:
			errs.add(path+".field", "%q is already an axis", ax.Field)
		}
		seen[ax.Field] = true
		if len(ax.Values) == 0 {
			errs.add(path+".values", "needs at least one value")
		}
		da := deviceAxis{field: ax.Field, index: deviceFieldIndex(ax.Field)}
		for j, v := range ax.Values {
			p := *base
			if err := SetDeviceField(&p, ax.Field, v); err != nil {
				errs.add(fmt.Sprintf("%s.values[%d]", path, j), "%v", err)
				continue
			}
			if err := p.Validate(); err != nil {
				errs.add(fmt.Sprintf("%s.values[%d]", path, j), "%s", profileReason(err))
			}
			da.values = append(da.values, reflect.ValueOf(p).Field(da.index))
		}
		axes = append(axes, da)
	}
	return axes, len(*errs) == before
}

// checkVariants validates every combination of the device axes' values on
// the base profile, reporting the first invalid one, and returns the
// smallest clip beta that every combination allows (the largest
// gmin_us/gmax_us). The combinations number no more than the grid's points,
// which the shard limit has already bounded.
func checkVariants(base *device.Profile, axes []deviceAxis, path string, errs *fieldErrors) float64 {
	lowBeta := base.Gmin / base.Gmax
	d := *base
	dv := reflect.ValueOf(&d).Elem()
	at := make([]int, len(axes))
	for {
		for i, ax := range axes {
			dv.Field(ax.index).Set(ax.values[at[i]])
		}
		if err := d.Validate(); err != nil {
			errs.add("grid.device", "the combination %s: %s", combination(axes, at), profileReason(err))
			return lowBeta
		}
		if path == "fast" && d.ADCBits > 0 {
			errs.add("path", "fast cannot model an ADC, and %s has adc_bits %d; use reference, or leave path out to choose per point",
				orBase(combination(axes, at)), d.ADCBits)
			return lowBeta
		}
		lowBeta = max(lowBeta, d.Gmin/d.Gmax)
		if !next(at, axes) {
			return lowBeta
		}
	}
}

// next advances at to the next combination, the last axis fastest.
func next(at []int, axes []deviceAxis) bool {
	for i := len(at) - 1; i >= 0; i-- {
		if at[i]++; at[i] < len(axes[i].values) {
			return true
		}
		at[i] = 0
	}
	return false
}

// combination names the values at of each axis, e.g. "gmin_us=5 gmax_us=2".
func combination(axes []deviceAxis, at []int) string {
	var parts []string
	for i, ax := range axes {
		parts = append(parts, fmt.Sprintf("%s=%v", ax.field, ax.values[at[i]].Interface()))
	}
	return strings.Join(parts, " ")
}

func orBase(c string) string {
	if c == "" {
		return "the profile"
	}
	return "the device combination " + c
}

// deviceFieldIndex is the index in device.Profile of the field with YAML name name.
func deviceFieldIndex(name string) int {
	t := reflect.TypeOf(device.Profile{})
	for i := 0; i < t.NumField(); i++ {
		if yamlName(t.Field(i)) == name {
			return i
		}
	}
	panic("sweep: no device field " + name) // callers check isDeviceField first
}
