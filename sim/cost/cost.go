// Package cost turns hardware counts (sim.Hardware) into area and energy
// with a parameter table of 32 nm component figures. Every figure of the
// default table names its source; a YAML file can override any of them.
//
// The model is ISAAC-style (Shafiee et al., ISCA 2016), as in NeuroSim-class
// estimators: each crossbar has its own 8-bit ADC shared by its columns, one
// 1-bit DAC per row, one sample-and-hold per column and one shift-and-add
// unit. Area is the sum over crossbars; energy per image counts ADC
// conversions and shift-adds, row drives, cell reads (every cell, each input
// bit cycle) and K/V cell writes. Figures not in the table (buffers, the
// digital softmax, interconnect) are left out of both a setting and its
// baseline, so savings are of the crossbar hardware only.
package cost

import (
	"fmt"
	"strings"

	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/crossbar"
)

// Table holds the component figures. Areas in mm^2, energies in pJ.
type Table struct {
	Node string `yaml:"node" json:"node"`
	// Crossbar arrays of 64 x 64 cells.
	ArrayArea64 float64 `yaml:"array_area_mm2_64x64" json:"array_area_mm2_64x64"`
	// One 8-bit ADC per crossbar.
	ADCArea   float64 `yaml:"adc_area_mm2" json:"adc_area_mm2"`
	ADCEnergy float64 `yaml:"adc_energy_pj_per_conversion" json:"adc_energy_pj_per_conversion"`
	// One 1-bit DAC (wordline driver) per row.
	DACArea   float64 `yaml:"dac_area_mm2" json:"dac_area_mm2"`
	DACEnergy float64 `yaml:"dac_energy_pj_per_drive" json:"dac_energy_pj_per_drive"`
	// One sample-and-hold per column.
	SHArea float64 `yaml:"sample_hold_area_mm2" json:"sample_hold_area_mm2"`
	// One shift-and-add unit per crossbar, one operation per conversion.
	ShiftAddArea   float64 `yaml:"shift_add_area_mm2" json:"shift_add_area_mm2"`
	ShiftAddEnergy float64 `yaml:"shift_add_energy_pj_per_op" json:"shift_add_energy_pj_per_op"`
	// Cell read and write pulses; energy = V^2 G t at the mean conductance
	// of the device profile's levels.
	ReadVoltage  float64 `yaml:"read_voltage_v" json:"read_voltage_v"`
	ReadPulseNS  float64 `yaml:"read_pulse_ns" json:"read_pulse_ns"`
	WriteVoltage float64 `yaml:"write_voltage_v" json:"write_voltage_v"`
	WritePulseNS float64 `yaml:"write_pulse_ns" json:"write_pulse_ns"`
	// Sources names where each figure comes from, by its YAML name.
	Sources map[string]string `yaml:"sources" json:"sources"`
}

// Default is the 32 nm table; see Sources for each figure's origin.
func Default() Table {
	const puma = "PUMA simulator, github.com/Aayush-Ankit/puma-simulator include/constants.py (\"Models from ISAAC paper\", 32 nm)"
	const hwc = "Accelergy hwcomponents-library, github.com/Accelergy-Project/hwcomponents-library hwcomponents_library/library/isaac.py (ISAAC, ISCA 2016, 32 nm)"
	return Table{
		Node:           "32 nm",
		ArrayArea64:    6.25e-6,
		ADCArea:        0.0012,
		ADCEnergy:      1.666666667,
		DACArea:        1.67e-7,
		DACEnergy:      0.41667,
		SHArea:         0.00004 / 8 / 128,
		ShiftAddArea:   0.00006,
		ShiftAddEnergy: 0.021,
		ReadVoltage:    0.5,
		ReadPulseNS:    10,
		WriteVoltage:   4,
		WritePulseNS:   50,
		Sources: map[string]string{
			"array_area_mm2_64x64":         puma + ": xbar_area_dict '64': 6.25e-6",
			"adc_area_mm2":                 puma + ": adc_area_dict 8-bit 0.0012; " + hwc + ": IsaacADC area 9600 um^2 / 8",
			"adc_energy_pj_per_conversion": hwc + ": IsaacADC 16e-3 W / (1.2 x 8 x 1e9 conversions/s) = 1.667 pJ (cites Kull et al., ISSCC 2013, 8 b 1.2 GS/s SAR ADC in 32 nm)",
			"dac_area_mm2":                 puma + ": dac_area_dict 1-bit 1.67e-7",
			"dac_energy_pj_per_drive":      hwc + ": IsaacDAC 4e-3 W over 128 x 8 DACs, 0.41667 pJ per drive",
			"sample_hold_area_mm2":         puma + ": snh_area = 0.00004 / 8 / 128",
			"shift_add_area_mm2":           puma + ": sna_area = 0.00006",
			"shift_add_energy_pj_per_op":   hwc + ": IsaacShiftAdd 0.021 pJ (16-bit, 32 nm)",
			"read_voltage_v":               "NeuroSim DNN_NeuroSim_V1.3 Inference_pytorch/NeuroSIM/Param.cpp: readVoltage = 0.5",
			"read_pulse_ns":                "NeuroSim DNN_NeuroSim_V1.3 Inference_pytorch/NeuroSIM/Param.cpp: readPulseWidth = 10e-9",
			"write_voltage_v":              "NeuroSim DNN_NeuroSim_V2.1 Training_pytorch/NeuroSIM/Param.cpp (technode 32): writeVoltage = 4",
			"write_pulse_ns":               "NeuroSim DNN_NeuroSim_V2.1 Training_pytorch/NeuroSIM/Param.cpp (technode 32): writePulseWidth = 50e-9",
		},
	}
}

// Validate reports the first figure that is not positive.
func (t *Table) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"array_area_mm2_64x64", t.ArrayArea64}, {"adc_area_mm2", t.ADCArea}, {"adc_energy_pj_per_conversion", t.ADCEnergy},
		{"dac_area_mm2", t.DACArea}, {"dac_energy_pj_per_drive", t.DACEnergy}, {"sample_hold_area_mm2", t.SHArea},
		{"shift_add_area_mm2", t.ShiftAddArea}, {"shift_add_energy_pj_per_op", t.ShiftAddEnergy},
		{"read_voltage_v", t.ReadVoltage}, {"read_pulse_ns", t.ReadPulseNS}, {"write_voltage_v", t.WriteVoltage},
		{"write_pulse_ns", t.WritePulseNS}} {
		if !(f.v > 0) {
			return fmt.Errorf("cost: %s: %v must be positive", f.name, f.v)
		}
	}
	return nil
}

// Breakdown is the area and energy of a set of crossbars.
type Breakdown struct {
	Crossbars int
	AreaMM2   float64
	// Energy per image, pJ, by component.
	ADCPJ, ShiftAddPJ, DACPJ, ReadPJ, WritePJ float64
}

// EnergyPJ is the total energy per image.
func (b Breakdown) EnergyPJ() float64 { return b.ADCPJ + b.ShiftAddPJ + b.DACPJ + b.ReadPJ + b.WritePJ }

func (b *Breakdown) add(o Breakdown) {
	b.Crossbars += o.Crossbars
	b.AreaMM2 += o.AreaMM2
	b.ADCPJ += o.ADCPJ
	b.ShiftAddPJ += o.ShiftAddPJ
	b.DACPJ += o.DACPJ
	b.ReadPJ += o.ReadPJ
	b.WritePJ += o.WritePJ
}

// Estimate is the cost of a model's crossbars under one setting and its
// untransformed baseline.
type Estimate struct {
	Table Table
	// Attention is the multi-head attention: qkv, proj, K^T and V.
	Attention, AttentionBase Breakdown
	// KV is K^T and V alone.
	KV, KVBase Breakdown
	// All is every crossbar of the model.
	All, AllBase Breakdown
}

// AreaSaving is the attention's relative area saving against the baseline.
func (e Estimate) AreaSaving() float64 { return 1 - e.Attention.AreaMM2/e.AttentionBase.AreaMM2 }

// EnergySaving is the attention's relative energy saving per image.
func (e Estimate) EnergySaving() float64 {
	return 1 - e.Attention.EnergyPJ()/e.AttentionBase.EnergyPJ()
}

// matrix costs one kind of stored matrix; writes counts its cells as
// written per image (K^T and V).
func (t *Table) matrix(m sim.MatrixCount, p *crossbar.Profile, written bool) Breakdown {
	xb := m.Crossbars()
	cellArea := t.ArrayArea64 * float64(p.Rows*p.Cols) / (64 * 64)
	perXbar := cellArea + t.ADCArea + float64(p.Rows)*t.DACArea + float64(p.Cols)*t.SHArea + t.ShiftAddArea
	gMean := (p.Gmin + p.Gmax) / 2 * 1e-6 // siemens: the mean of uniformly used levels
	eRead := t.ReadVoltage * t.ReadVoltage * gMean * t.ReadPulseNS * 1e-9 * 1e12
	eWrite := t.WriteVoltage * t.WriteVoltage * gMean * t.WritePulseNS * 1e-9 * 1e12
	b := Breakdown{Crossbars: xb, AreaMM2: float64(xb) * perXbar,
		ADCPJ: float64(m.Conversions) * t.ADCEnergy, ShiftAddPJ: float64(m.Conversions) * t.ShiftAddEnergy,
		DACPJ: float64(m.RowDrives()) * t.DACEnergy, ReadPJ: float64(m.CellReads()) * eRead}
	if written {
		b.WritePJ = float64(int64(m.Rows)*int64(m.Cols)*int64(m.Slices)*2*int64(m.Instances)) * eWrite
	}
	return b
}

// Of costs h (computed for profile p) with table t.
func Of(h sim.Hardware, p crossbar.Profile, t Table) Estimate {
	e := Estimate{Table: t}
	for _, m := range h.Matrices {
		kv := m.Place == crossbar.PlaceQK || m.Place == crossbar.PlaceAV
		b := t.matrix(m, &p, kv)
		e.All.add(b)
		if kv {
			e.KV.add(b)
			e.Attention.add(b)
			continue
		}
		e.AllBase.add(b)
		if m.Place == crossbar.PlaceQKV || m.Place == crossbar.PlaceProj {
			e.Attention.add(b)
			e.AttentionBase.add(b)
		}
	}
	for _, m := range h.Baseline {
		b := t.matrix(m, &p, true)
		e.KVBase.add(b)
		e.AttentionBase.add(b)
		e.AllBase.add(b)
	}
	return e
}

// String is a short human-readable summary of the attention's cost.
func (e Estimate) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "attention (qkv, proj, K^T, V) at %s: area %.4f mm^2 (untransformed %.4f, saving %.1f %%), energy %.2f uJ per image (untransformed %.2f, saving %.1f %%)",
		e.Table.Node, e.Attention.AreaMM2, e.AttentionBase.AreaMM2, 100*e.AreaSaving(),
		e.Attention.EnergyPJ()/1e6, e.AttentionBase.EnergyPJ()/1e6, 100*e.EnergySaving())
	return s.String()
}
