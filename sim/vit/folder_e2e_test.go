package vit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipformer/clipformer/sim/dataset"
	"github.com/clipformer/clipformer/sim/vit"
)

// e2eDir holds scripts/make_folder_golden.py's output: a tiny 224 x 224 x 3
// ViT, an image folder of PNG and JPEG files, and PyTorch's logits.
var e2eDir = filepath.Join("testdata", "folder-e2e")

// Tolerances of the whole path against PyTorch (float64 logits of order one).
// For scale: resizing the shorter side to 257 instead of 256 moves these
// logits by 0.026 to 0.072, so both tolerances catch a transform off by one
// pixel.
const (
	// PNG decodes to the same bytes in Go and PIL, and the resize reproduces
	// Pillow's fixed-point arithmetic exactly, so the crops are identical
	// (checked by hash) and only the forward's float32 rounding remains:
	// at most 7.6e-7 measured.
	pngTol = 1e-5
	// JPEG: Go's image/jpeg and libjpeg-turbo (under PIL) use different
	// inverse DCTs, whose rounding moves decoded pixels by a level or two
	// (about 0.009 after normalisation by std 0.225); the bicubic resize
	// spreads the change and the forward passes it on. Measured: at most
	// 0.0019 over the four JPEGs (4:2:0 at quality 75, 85 and 90, 4:4:4 at
	// 95); the crops differ from PIL's, the logits by three times less than
	// this tolerance.
	jpegTol = 0.006
)

type e2eGolden struct {
	Images []struct {
		Path   string    `json:"path"`
		Label  int       `json:"label"`
		Crop   string    `json:"crop_sha256"`
		Logits []float64 `json:"logits"`
	} `json:"images"`
}

// The DeiT path end to end: an image folder is decoded, resized, centre-
// cropped and normalised, and the ideal forward gives PyTorch's logits.
func TestFolderThroughTheModelMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(e2eDir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g e2eGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	m, err := vit.Load(filepath.Join(e2eDir, "model.safetensors"), vit.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := dataset.Open("folder:"+filepath.Join(e2eDir, "images"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.CheckFits(data, m.InChans, m.ImgSize, m.ImgSize); err != nil {
		t.Fatal(err)
	}
	f := data.(*dataset.Folder)
	if f.Len() != len(g.Images) || f.NumClasses() != m.Classes {
		t.Fatalf("%d images in %d classes, golden.json has %d images, the model %d classes", f.Len(), f.NumClasses(), len(g.Images), m.Classes)
	}
	img := make([]float32, m.InChans*m.ImgSize*m.ImgSize)
	crop := make([]byte, len(img))
	logits := make([]float32, m.Classes)
	var worstPNG, worstJPEG float64
	for i, want := range g.Images {
		rel, _ := filepath.Rel(filepath.Join(e2eDir, "images"), f.Path(i))
		if filepath.ToSlash(rel) != want.Path {
			t.Fatalf("image %d is %s, golden.json has %s: the folder order differs from ImageFolder's", i, rel, want.Path)
		}
		label, err := data.Image(i, img)
		if err != nil {
			t.Fatal(err)
		}
		if label != want.Label {
			t.Fatalf("%s: label %d, want %d", rel, label, want.Label)
		}
		for j, v := range img {
			crop[j] = byte(math.Round(float64(v) * 255))
		}
		sum := sha256.Sum256(crop)
		sameCrop := hex.EncodeToString(sum[:]) == want.Crop
		m.Normalize(img)
		m.Forward(&vit.Ideal{}, &vit.Workspace{}, img, []int{i}, logits)
		var diff float64
		for k, w := range want.Logits {
			diff = max(diff, math.Abs(float64(logits[k])-w))
		}
		png := strings.HasSuffix(rel, ".png")
		tol := jpegTol
		if png {
			tol = pngTol
			worstPNG = max(worstPNG, diff)
			if !sameCrop {
				t.Errorf("%s: the 224 x 224 crop differs from PIL's", rel)
			}
		} else {
			worstJPEG = max(worstJPEG, diff)
		}
		t.Logf("%-18s crop identical to PIL's: %-5v largest |logit difference| %.2g", rel, sameCrop, diff)
		if diff > tol {
			t.Errorf("%s: largest |logit difference| %.3g exceeds %g", rel, diff, tol)
		}
	}
	t.Logf("worst |logit difference|: PNG %.2g (tolerance %g), JPEG %.2g (tolerance %g)", worstPNG, pngTol, worstJPEG, jpegTol)
}
