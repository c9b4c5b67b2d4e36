package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/clipformer/clipformer/internal/config"
	"github.com/clipformer/clipformer/sim"
	"github.com/clipformer/clipformer/sim/cost"
	"github.com/clipformer/clipformer/sim/crossbar"
	"github.com/clipformer/clipformer/sim/vit"
)

// hwReport is the JSON form of `clipformer hw`.
type hwReport struct {
	Model    string            `json:"model"`
	Clip     clipJSON          `json:"clipformer"`
	Pruning  string            `json:"pruning,omitempty"`
	Hardware sim.Hardware      `json:"hardware"`
	Cost     costJSON          `json:"cost"`
	Sources  map[string]string `json:"sources"`
}

type costJSON struct {
	Node                string  `json:"node"`
	AttentionAreaMM2    float64 `json:"attention_area_mm2"`
	BaselineAreaMM2     float64 `json:"attention_area_mm2_untransformed"`
	AttentionEnergyUJ   float64 `json:"attention_energy_uj_per_image"`
	BaselineEnergyUJ    float64 `json:"attention_energy_uj_per_image_untransformed"`
	AreaSavingPercent   float64 `json:"attention_area_saving_percent"`
	EnergySavingPercent float64 `json:"attention_energy_saving_percent"`
	KVAreaMM2           float64 `json:"kv_area_mm2"`
	KVBaseMM2           float64 `json:"kv_area_mm2_untransformed"`
	ModelAreaMM2        float64 `json:"model_area_mm2"`
	ModelEnergyUJ       float64 `json:"model_energy_uj_per_image"`
}

func runHW(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", defaultModel, "checkpoint (only its architecture is used)")
	clipFlag := fs.String("clip", "2,0.25", `ClipFormer: "off" or "ALPHA,BETA"`)
	profileFile := fs.String("profile", "", "device profile YAML (default: the built-in profile)")
	costs := fs.String("costs", "", "cost table YAML overriding the built-in 32 nm figures")
	keep := fs.Float64("prune-keep", 0.7, "EViT token pruning: share of tokens kept")
	blocks := fs.String("prune-blocks", "", "EViT token pruning: 0-based blocks (default: none)")
	fuse := fs.Bool("prune-fuse", true, "EViT token pruning: fuse the pruned tokens")
	asJSON := fs.Bool("json", false, "print JSON")
	sources := fs.Bool("sources", false, "print where every figure of the cost table comes from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	clip, err := parseClip(*clipFlag)
	if err != nil {
		return err
	}
	p := crossbar.Default()
	if *profileFile != "" {
		if p, err = config.LoadProfile(*profileFile); err != nil {
			return err
		}
	}
	if err := clip.Validate(&p); err != nil {
		return err
	}
	table := cost.Default()
	if *costs != "" {
		if table, err = config.LoadCostTable(*costs); err != nil {
			return err
		}
	}
	path := locateBundled(*model)
	m, err := vit.Load(path, vit.LoadOptions{})
	if err != nil {
		return err
	}
	prune := vit.Pruning{KeepRate: *keep, Fuse: *fuse}
	for _, f := range splitList(*blocks) {
		b, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("hw: --prune-blocks: %q is not a block index", f)
		}
		prune.Blocks = append(prune.Blocks, b)
	}
	if err := prune.Validate(m.Depth); err != nil {
		return err
	}
	h := sim.HardwareCountsPruned(m.Config, p, clip, &prune)
	e := cost.Of(h, p, table)
	rep := hwReport{Model: path, Clip: clipJSON{clip.On, clip.Alpha, clip.Beta}, Hardware: h, Sources: table.Sources,
		Cost: costJSON{Node: table.Node, AttentionAreaMM2: e.Attention.AreaMM2, BaselineAreaMM2: e.AttentionBase.AreaMM2,
			AttentionEnergyUJ: e.Attention.EnergyPJ() / 1e6, BaselineEnergyUJ: e.AttentionBase.EnergyPJ() / 1e6,
			AreaSavingPercent: 100 * e.AreaSaving(), EnergySavingPercent: 100 * e.EnergySaving(),
			KVAreaMM2: e.KV.AreaMM2, KVBaseMM2: e.KVBase.AreaMM2, ModelAreaMM2: e.All.AreaMM2, ModelEnergyUJ: e.All.EnergyPJ() / 1e6}}
	if prune.On() {
		rep.Pruning = prune.String()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "model      %s (%d blocks, dim %d, %d heads, %d tokens)\n", path, m.Depth, m.Dim, m.Heads, m.Tokens())
	fmt.Fprintf(stdout, "setting    ClipFormer %s; %d-bit values in %d-bit cells, %dx%d crossbars", clip, p.Precision, p.BitsPerCell, p.Rows, p.Cols)
	if prune.On() {
		fmt.Fprintf(stdout, "; pruning %s", prune.String())
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "matrix\trows\tcols\tslices\tcrossbars\tADC conv./image\t")
	for _, mc := range h.Matrices {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", mc.Name, mc.Rows, mc.Cols, mc.Slices, mc.Crossbars(), mc.Conversions)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "K/V slices %d (untransformed %d); K/V cells written per image %d (untransformed %d)\n",
		h.KVSlices, h.KVSlicesBaseline, h.CellsWritten, h.CellsWrittenBase)
	row := func(name string, b, base cost.Breakdown) {
		fmt.Fprintf(tw, "%s\t%.5f\t%.5f\t%.1f %%\t%.3f\t%.3f\t%.1f %%\t\n", name, b.AreaMM2, base.AreaMM2, 100*(1-b.AreaMM2/base.AreaMM2),
			b.EnergyPJ()/1e6, base.EnergyPJ()/1e6, 100*(1-b.EnergyPJ()/base.EnergyPJ()))
	}
	fmt.Fprintf(stdout, "cost at %s (crossbars, ADCs, DACs, S&H, shift-add; energy per image):\n", table.Node)
	fmt.Fprintln(tw, "part\tarea mm^2\tuntransformed\tsaving\tenergy uJ\tuntransformed\tsaving\t")
	row("K^T and V", e.KV, e.KVBase)
	row("attention (qkv, proj, K^T, V)", e.Attention, e.AttentionBase)
	row("whole model", e.All, e.AllBase)
	tw.Flush()
	a := e.Attention
	fmt.Fprintf(stdout, "attention energy by component: ADC %.1f %%, shift-add %.1f %%, DAC %.1f %%, cell reads %.1f %%, K/V writes %.1f %%\n",
		100*a.ADCPJ/a.EnergyPJ(), 100*a.ShiftAddPJ/a.EnergyPJ(), 100*a.DACPJ/a.EnergyPJ(), 100*a.ReadPJ/a.EnergyPJ(), 100*a.WritePJ/a.EnergyPJ())
	if *sources {
		keys := make([]string, 0, len(table.Sources))
		for k := range table.Sources {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(stdout, "source     %s: %s\n", k, table.Sources[k])
		}
	}
	return nil
}
