package cost

import (
	"math"
	"testing"

	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

func TestClipFormerSavesAttentionAreaAndEnergyAndOffSavesNothing(t *testing.T) {
	c := vit.Presets["deit-small"]
	p := crossbar.Default()
	off := Of(sim.HardwareCounts(c, p, crossbar.ClipFormer{}), p, Default())
	if off.AreaSaving() != 0 || off.EnergySaving() != 0 || off.Attention.AreaMM2 != off.AttentionBase.AreaMM2 {
		t.Fatalf("untransformed setting saves %v / %v", off.AreaSaving(), off.EnergySaving())
	}
	on := Of(sim.HardwareCounts(c, p, crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}), p, Default())
	if !(on.AreaSaving() > 0.02 && on.AreaSaving() < 0.25) || !(on.EnergySaving() > 0.01) {
		t.Fatalf("saving area %v energy %v", on.AreaSaving(), on.EnergySaving())
	}
	// K/V alone: 3 slices instead of 4 saves about a quarter.
	kv := 1 - on.KV.AreaMM2/on.KVBase.AreaMM2
	if kv < 0.2 || kv > 0.3 {
		t.Fatalf("K/V area saving %v", kv)
	}
	// The baseline is the same whatever the transform.
	if math.Abs(on.AttentionBase.EnergyPJ()-off.Attention.EnergyPJ()) > 1e-6*off.Attention.EnergyPJ() {
		t.Fatalf("baselines differ: %v vs %v", on.AttentionBase.EnergyPJ(), off.Attention.EnergyPJ())
	}
	// Energy per conversion, checked by hand for one ADC figure.
	if d := on.Attention.ADCPJ / Default().ADCEnergy; math.Abs(d-math.Round(d)) > 1e-3 {
		t.Fatalf("ADC energy is not a whole number of conversions: %v", d)
	}
}

func TestPruningShrinksKVCost(t *testing.T) {
	c := vit.Presets["deit-small"]
	p := crossbar.Default()
	clip := crossbar.ClipFormer{On: true, Alpha: 2, Beta: 0.25}
	full := Of(sim.HardwareCounts(c, p, clip), p, Default())
	pr := Of(sim.HardwareCountsPruned(c, p, clip, &vit.Pruning{KeepRate: 0.7, Blocks: []int{3, 6, 9}, Fuse: true}), p, Default())
	if !(pr.KV.AreaMM2 < full.KV.AreaMM2 && pr.Attention.EnergyPJ() < full.Attention.EnergyPJ()) {
		t.Fatalf("pruned %v / %v, full %v / %v", pr.KV.AreaMM2, pr.Attention.EnergyPJ(), full.KV.AreaMM2, full.Attention.EnergyPJ())
	}
}

func TestValidateNamesTheFigure(t *testing.T) {
	tb := Default()
	tb.ADCEnergy = 0
	if err := tb.Validate(); err == nil || err.Error() != "cost: adc_energy_pj_per_conversion: 0 must be positive" {
		t.Fatalf("err = %v", err)
	}
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"array_area_mm2_64x64", "adc_area_mm2", "adc_energy_pj_per_conversion", "dac_area_mm2", "dac_energy_pj_per_drive",
		"sample_hold_area_mm2", "shift_add_area_mm2", "shift_add_energy_pj_per_op", "read_voltage_v", "read_pulse_ns", "write_voltage_v", "write_pulse_ns"} {
		if d.Sources[k] == "" {
			t.Errorf("figure %s has no source", k)
		}
	}
}
