package dataset

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"testing"
)

// TestJPEGDecodeMatchesPillow compares the JPEG path (Go's decoder, then libjpeg's fancy
// chroma upsampling and colour conversion) with Pillow's decode, which is libjpeg-turbo's,
// for every chroma subsampling. The only remaining difference is the inverse DCT: Go's
// and libjpeg's islow IDCT round differently, by a level or two, rarely a few more where
// the colour conversion amplifies a chroma difference. Hence the tolerance: at most 4
// levels anywhere and 0.15 on average. Nearest-neighbour chroma, the Go default, is off
// by tens of levels at the colour edges of these pictures.
func TestJPEGDecodeMatchesPillow(t *testing.T) {
	tests := []struct {
		name  string
		ratio image.YCbCrSubsampleRatio
	}{
		{"444", image.YCbCrSubsampleRatio444},
		{"422", image.YCbCrSubsampleRatio422},
		{"420", image.YCbCrSubsampleRatio420},
		{"420_progressive", image.YCbCrSubsampleRatio420},
		{"420_narrow", image.YCbCrSubsampleRatio420},
		{"440", image.YCbCrSubsampleRatio440},
		{"411", image.YCbCrSubsampleRatio411},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "pil", "jpeg_"+tt.name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := img.(*image.YCbCr); !ok || m.SubsampleRatio != tt.ratio {
				t.Fatalf("decoded %T, want *image.YCbCr with ratio %v", img, tt.ratio)
			}
			got, want := toPixmap(img), readGolden(t, "jpeg_"+tt.name)
			if got.w != want.w || got.h != want.h || got.nc != want.nc {
				t.Fatalf("got %dx%dx%d, Pillow %dx%dx%d", got.w, got.h, got.nc, want.w, want.h, want.nc)
			}
			worst, sum := 0, 0
			for i := range got.pix {
				d := int(got.pix[i]) - int(want.pix[i])
				d = max(d, -d)
				worst = max(worst, d)
				sum += d
			}
			mean := float64(sum) / float64(len(got.pix))
			if worst > 4 || mean > 0.15 {
				t.Errorf("differs from Pillow by up to %d levels, %.3f on average; want at most 4 and 0.15", worst, mean)
			}
			t.Logf("max difference %d, mean %.3f", worst, mean)
		})
	}
}
