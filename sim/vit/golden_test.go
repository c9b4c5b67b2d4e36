package vit

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/sim/safetensors"
)

// bundled lists the models the project ships, relative to this package.
var bundled = []string{"vit-mnist", "vit-fashion-mnist", "vit-mnist-vat", "vit-fashion-mnist-vat", "lvvit-mnist", "lvvit-mnist-vat"}

func modelPath(name string) string { return filepath.Join("..", "..", "models", name+".safetensors") }

// The ideal forward (no crossbar, no quantisation) reproduces the logits
// PyTorch computed for 16 test images when it trained the bundled models.
// 1e-4 absolute: both sides accumulate in float32, in different orders.
func TestIdealForwardMatchesPyTorchGoldenLogits(t *testing.T) {
	for _, name := range bundled {
		t.Run(name, func(t *testing.T) {
			m, err := Load(modelPath(name), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			g, err := safetensors.Read(filepath.Join("..", "..", "models", name+".golden.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			imgLen := m.InChans * m.ImgSize * m.ImgSize
			inputs, err := g.Get("inputs", -1, m.InChans, m.ImgSize, m.ImgSize)
			if err != nil {
				t.Fatal(err)
			}
			n := inputs.Shape[0]
			want, err := g.Get("logits", n, m.Classes)
			if err != nil {
				t.Fatal(err)
			}
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			got := make([]float32, n*m.Classes)
			m.Forward(&Ideal{}, &Workspace{}, inputs.Data[:n*imgLen], idx, got)
			var worst float64
			for i := range got {
				worst = math.Max(worst, math.Abs(float64(got[i]-want.Data[i])))
			}
			if worst > 1e-4 {
				t.Fatalf("largest |logit difference| %g over %d images exceeds 1e-4", worst, n)
			}
			t.Logf("%d images, largest |logit difference| %.2g", n, worst)
		})
	}
}

// Writing a model and loading it back gives the same model, in every dtype
// to that dtype's precision, including a distilled DeiT's extra token and head.
func TestSynthWriteLoadRoundTrip(t *testing.T) {
	c := Presets["deit-tiny-distilled"]
	c.Depth = 2
	m, err := Synth(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := safetensors.Write(path, m.Tensors(), m.Metadata(), dtype); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Tokens() != 198 || !got.Distilled || got.Heads != 3 || got.Depth != 2 || got.Classes != 1000 {
			t.Fatalf("%s: loaded config %+v", dtype, got.Config)
		}
		tol := map[string]float64{"F32": 0, "F16": 1e-3, "BF16": 8e-3}[dtype]
		a, b := m.Blocks[1].FC2.WT, got.Blocks[1].FC2.WT
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > tol*math.Abs(float64(a[i]))+1e-7 {
				t.Fatalf("%s: fc2 weight %d: wrote %v, read %v", dtype, i, a[i], b[i])
			}
		}
	}
}

func TestLoadRejectsBadCheckpoints(t *testing.T) {
	c := Presets["deit-tiny"]
	c.Depth = 1
	m, _ := Synth(c, 1)
	good := m.Tensors()
	drop := func(name string) []*safetensors.Tensor {
		var out []*safetensors.Tensor
		for _, t := range good {
			if t.Name != name {
				out = append(out, t)
			}
		}
		return out
	}
	reshape := func(name string, shape ...int) []*safetensors.Tensor {
		var out []*safetensors.Tensor
		for _, t := range good {
			if t.Name == name {
				n := 1
				for _, s := range shape {
					n *= s
				}
				t = &safetensors.Tensor{Name: name, Shape: shape, Data: make([]float32, n)}
			}
			out = append(out, t)
		}
		return out
	}
	cases := []struct {
		tensors []*safetensors.Tensor
		meta    map[string]string
		want    string
	}{
		{drop("blocks.0.mlp.fc2.bias"), m.Metadata(), "blocks.0.mlp.fc2.bias"},
		{drop("head.weight"), m.Metadata(), "head.weight"},
		{reshape("blocks.0.attn.proj.weight", 192, 191), m.Metadata(), "blocks.0.attn.proj.weight"},
		{reshape("pos_embed", 1, 190, 192), m.Metadata(), "pos_embed"},
		{good, map[string]string{"num_heads": "5"}, "num_heads"},
		{good, map[string]string{"num_heads": "3", "mean": "0.5"}, "mean"},
	}
	for i, tc := range cases {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("bad%d.safetensors", i))
		if err := safetensors.Write(path, tc.tensors, tc.meta, "F32"); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, LoadOptions{})
		if err == nil || !contains(err.Error(), tc.want) || !contains(err.Error(), path) {
			t.Errorf("case %d: got %v, want an error naming %s and %s", i, err, path, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// The checkpoint's metadata names the data set it was trained on, and writing a model
// keeps it.
func TestLoadReadsTheDatasetFromTheMetadata(t *testing.T) {
	for name, want := range map[string]string{"vit-mnist": "mnist", "vit-fashion-mnist": "fashion-mnist", "lvvit-mnist": "mnist"} {
		m, err := Load(modelPath(name), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Dataset != want {
			t.Errorf("%s: Dataset %q, want %q", name, m.Dataset, want)
		}
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := safetensors.Write(path, m.Tensors(), m.Metadata(), "F32"); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if back.Dataset != want {
			t.Errorf("%s written and read back: Dataset %q, want %q", name, back.Dataset, want)
		}
	}
}
