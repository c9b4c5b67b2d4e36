package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/clipformer/clipformer/sim/safetensors"
	"github.com/clipformer/clipformer/sim/vit"
)

func runModel(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("model: want a sub-command: synth or inspect")
	}
	switch args[0] {
	case "synth":
		return runSynth(args[1:], stdout, stderr)
	case "inspect":
		return runInspect(args[1:], stdout, stderr)
	}
	return fmt.Errorf("model: unknown sub-command %q (want synth or inspect)", args[0])
}

func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	arch := fs.String("arch", "deit-small", "architecture: "+strings.Join(vit.PresetNames(), ", "))
	out := fs.String("out", "", "checkpoint to write (.safetensors); required")
	seed := fs.Uint64("seed", 1, "seed of the random weights")
	dtype := fs.String("dtype", "F32", "stored dtype: F32, F16 or BF16")
	classes := fs.Int("classes", 0, "override the number of classes")
	img := fs.Int("img-size", 0, "override the image size")
	depth := fs.Int("depth", 0, "override the number of blocks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("model synth: --out is required")
	}
	c, ok := vit.Presets[*arch]
	if !ok {
		return fmt.Errorf("model synth: unknown --arch %q (want one of %s)", *arch, strings.Join(vit.PresetNames(), ", "))
	}
	if *classes > 0 {
		c.Classes = *classes
	}
	if *img > 0 {
		c.ImgSize = *img
	}
	if *depth > 0 {
		c.Depth = *depth
	}
	m, err := vit.Synth(c, *seed)
	if err != nil {
		return fmt.Errorf("model synth: %w", err)
	}
	md := m.Metadata()
	md["synthetic_seed"] = fmt.Sprint(*seed)
	if err := safetensors.Write(*out, m.Tensors(), md, *dtype); err != nil {
		return fmt.Errorf("model synth: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %d parameters, %s, seed %d\n", *out, c.Arch, c.Params(), *dtype, *seed)
	return nil
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	heads := fs.Int("heads", 0, "head count, when the file's metadata lacks it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("model inspect: want one checkpoint file")
	}
	f, err := safetensors.Read(fs.Arg(0))
	if err != nil {
		return err
	}
	m, err := vit.FromFile(f, vit.LoadOptions{Heads: *heads})
	if err != nil {
		return err
	}
	printArch(stdout, m)
	fmt.Fprintln(stdout)
	if len(f.Metadata) > 0 {
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(stdout, "metadata:")
		for _, k := range keys {
			fmt.Fprintf(stdout, "  %s: %s\n", k, f.Metadata[k])
		}
		fmt.Fprintln(stdout)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "tensor\tshape\tparameters")
	total := 0
	for _, name := range f.Order {
		t := f.Tensors[name]
		n := len(t.Data)
		total += n
		fmt.Fprintf(tw, "%s\t%v\t%d\n", name, t.Shape, n)
	}
	fmt.Fprintf(tw, "total\t\t%d\n", total)
	return tw.Flush()
}

func printArch(w io.Writer, m *vit.Model) {
	c := m.Config
	arch := c.Arch
	if arch == "" {
		arch = "vit"
	}
	fmt.Fprintf(w, "model:       %s (%s)\n", m.Source, arch)
	fmt.Fprintf(w, "input:       %d x %d x %d, patch %d, mean %v std %v\n", c.InChans, c.ImgSize, c.ImgSize, c.Patch, c.Mean, c.Std)
	fmt.Fprintf(w, "encoder:     %d blocks, dim %d, %d heads of %d, mlp %d, %d tokens\n", c.Depth, c.Dim, c.Heads, c.HeadDim(), c.MLPHidden, c.Tokens())
	dist := ""
	if c.Distilled {
		dist = " (distilled: class and distillation heads averaged)"
	}
	if c.AuxHead {
		dist = " (LV-ViT: head on the class token + 0.5 x the max over patch tokens of aux_head)"
	}
	fmt.Fprintf(w, "classes:     %d%s\n", c.Classes, dist)
	if c.Stem > 0 || c.SkipLam != 0 || c.NoQKVBias {
		fmt.Fprintf(w, "lv-vit:      conv stem of %d channels (7x7 stride 2, 3x3, 3x3; BatchNorm, ReLU; computed digitally), skip_lam %g, qkv bias %v\n",
			c.Stem, c.SkipLam, !c.NoQKVBias)
	}
	fmt.Fprintf(w, "parameters:  %d (%.1f MB as float32)\n", c.Params(), float64(c.Params())*4/1e6)
	fmt.Fprintf(w, "forward:     %.3f GFLOP per image\n", c.FLOPs()/1e9)
}
