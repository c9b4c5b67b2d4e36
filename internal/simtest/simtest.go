// Package simtest writes the small models and image folders that tests of
// the simulator's callers (eval, the worker, single-machine sweeps) run on.
package simtest

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipformer/clipformer/sim/safetensors"
	"github.com/clipformer/clipformer/sim/vit"
)

// RGBModel writes a tiny random ViT for 224 x 224 colour images (DeiT's
// input, so that it reads image folders) with the given classes, drawn from
// seed, and returns its path.
func RGBModel(t testing.TB, classes int, seed uint64) string {
	t.Helper()
	c := vit.Config{Arch: "test-rgb", ImgSize: 224, InChans: 3, Patch: 16, Dim: 32, Depth: 1, Heads: 2, MLPHidden: 64, Classes: classes,
		Mean: vit.ImageNetMean, Std: vit.ImageNetStd}
	m, err := vit.Synth(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rgb.safetensors")
	if err := safetensors.Write(path, m.Tensors(), m.Metadata(), "F32"); err != nil {
		t.Fatal(err)
	}
	return path
}

// ImageFolder writes root/cK/NN.png, classes x perClass small pictures, and
// returns root; shade tells one folder's pictures from another's.
func ImageFolder(t testing.TB, root string, classes, perClass int, shade uint8) string {
	t.Helper()
	for c := 0; c < classes; c++ {
		for i := 0; i < perClass; i++ {
			img := image.NewNRGBA(image.Rect(0, 0, 32, 24))
			for p := 0; p < 32*24; p++ {
				img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2], img.Pix[4*p+3] = uint8(p)+shade, uint8(60*c+9*i), shade^uint8(p/32*7), 255
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, fmt.Sprintf("c%d", c), fmt.Sprintf("%02d.png", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}
