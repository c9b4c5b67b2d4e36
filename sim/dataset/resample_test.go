package dataset

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// noise is the synthetic source of testdata/pil_golden.py:
// ((x*1103 + y*7919 + c*104729 + x*y*31) % 65521 * 131) % 256. It is harsh on a
// resampler: neighbouring pixels differ wildly, so the bicubic overshoot clips often.
func noise(w, h, nc int) pixmap {
	p := pixmap{w: w, h: h, nc: nc, pix: make([]uint8, w*h*nc)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < nc; c++ {
				p.pix[(y*w+x)*nc+c] = uint8((x*1103 + y*7919 + c*104729 + x*y*31) % 65521 * 131 % 256)
			}
		}
	}
	return p
}

// readGolden reads a Pillow reference image from testdata/pil as a pixmap.
func readGolden(t *testing.T, name string) pixmap {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pil", name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return toPixmap(img)
}

// TestResizeMatchesPillowBicubic compares the resampler with Pillow 9.4's
// Image.resize(size, BICUBIC) and torchvision's Resize+CenterCrop on Pillow images, byte
// for byte: the fixed-point arithmetic is Pillow's, so no tolerance is needed. The
// references come from testdata/pil_golden.py.
func TestResizeMatchesPillowBicubic(t *testing.T) {
	tests := []struct {
		name         string
		w, h, nc     int
		resize       bool // plain resize to a, b; else eval transform with Resize(a), CenterCrop(b)
		a, b         int
		wantW, wantH int
	}{
		{"down", 97, 61, 3, true, 40, 25, 40, 25},
		{"down_big_factor", 500, 37, 3, true, 23, 11, 23, 11},
		{"up", 13, 9, 3, true, 50, 37, 50, 37},
		{"mixed", 50, 20, 3, true, 23, 45, 23, 45},
		{"horizontal_only", 64, 30, 3, true, 17, 30, 17, 30},
		{"vertical_only", 30, 64, 3, true, 30, 17, 30, 17},
		{"grey", 45, 33, 1, true, 20, 15, 20, 15},
		{"eval_300x400", 300, 400, 3, false, 256, 224, 224, 224},
		{"eval_217x189", 217, 189, 3, false, 80, 64, 64, 64},
		{"eval_identity_tie", 149, 100, 3, false, 100, 64, 64, 64},
		{"eval_upscale", 30, 21, 3, false, 80, 64, 64, 64},
		{"eval_grey", 133, 100, 1, false, 80, 64, 64, 64},
		{"eval_padded", 50, 40, 3, false, 32, 40, 40, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := noise(tt.w, tt.h, tt.nc)
			var got pixmap
			if tt.resize {
				got = resizeWindow(src, tt.a, tt.b, 0, tt.a, 0, tt.b)
			} else {
				got = resizeCrop(src, tt.a, tt.b)
			}
			want := readGolden(t, tt.name)
			if got.w != tt.wantW || got.h != tt.wantH || want.w != tt.wantW || want.h != tt.wantH {
				t.Fatalf("got %dx%d, Pillow %dx%d, want %dx%d", got.w, got.h, want.w, want.h, tt.wantW, tt.wantH)
			}
			if want.nc != got.nc {
				t.Fatalf("got %d channels, Pillow %d", got.nc, want.nc)
			}
			diffs := 0
			for i := range got.pix {
				if got.pix[i] != want.pix[i] {
					if diffs < 5 {
						p := i / got.nc
						t.Errorf("pixel (%d,%d) channel %d: got %d, Pillow %d", p%got.w, p/got.w, i%got.nc, got.pix[i], want.pix[i])
					}
					diffs++
				}
			}
			if diffs > 0 {
				t.Errorf("%d of %d samples differ from Pillow", diffs, len(got.pix))
			}
		})
	}
}

// TestResizeCropWindowMatchesFullResize checks that computing only the cropped window
// gives the same bytes as resizing the whole image and cropping it afterwards.
func TestResizeCropWindowMatchesFullResize(t *testing.T) {
	for _, sz := range [][2]int{{300, 400}, {400, 300}, {517, 389}, {256, 300}, {90, 60}, {1, 700}, {700, 3}} {
		src := noise(sz[0], sz[1], 3)
		got := resizeCrop(src, 64, 56)
		nw, nh := resizedSize(sz[0], sz[1], 64)
		full := resizeWindow(src, nw, nh, 0, nw, 0, nh)
		left, top := cropOffset(nw, 56), cropOffset(nh, 56)
		for y := 0; y < 56; y++ {
			for x := 0; x < 56*3; x++ {
				if g, w := got.pix[y*56*3+x], full.pix[((y+top)*nw+left)*3+x]; g != w {
					t.Fatalf("%dx%d: crop pixel (%d,%d): window %d, full resize %d", sz[0], sz[1], x/3, y, g, w)
				}
			}
		}
	}
}

// TestResizeGeometry checks torchvision's output sizes and crop offsets, hand-computed:
// the shorter side becomes 256, the longer int(256*long/short), and the crop offset is
// int(round((n-224)/2)) with round half to even.
func TestResizeGeometry(t *testing.T) {
	sizes := []struct{ w, h, nw, nh int }{
		{300, 400, 256, 341},   // 256*400/300 = 341.33
		{400, 300, 341, 256},   //
		{500, 375, 341, 256},   // 341.33
		{517, 389, 340, 256},   // 340.24
		{256, 256, 256, 256},   // unchanged
		{100, 70, 365, 256},    // 365.71, upscaled
		{1, 1000, 256, 256000}, //
	}
	for _, s := range sizes {
		if nw, nh := resizedSize(s.w, s.h, 256); nw != s.nw || nh != s.nh {
			t.Errorf("resizedSize(%d, %d, 256) = %d, %d, want %d, %d", s.w, s.h, nw, nh, s.nw, s.nh)
		}
	}
	offsets := []struct{ n, crop, want int }{
		{256, 224, 16},
		{341, 224, 58}, // 58.5 rounds to even 58
		{343, 224, 60}, // 59.5 rounds to even 60
		{224, 224, 0},
		{225, 224, 0}, // 0.5 rounds to 0
		{227, 224, 2}, // 1.5 rounds to 2
		{32, 40, -4},  // padded by (40-32)//2 = 4 on the left
		{33, 40, -3},  // padded by 7//2 = 3
	}
	for _, o := range offsets {
		if got := cropOffset(o.n, o.crop); got != o.want {
			t.Errorf("cropOffset(%d, %d) = %d, want %d", o.n, o.crop, got, o.want)
		}
	}
}

// TestResizeKeepsConstantImageConstant: bicubic coefficients are normalised to sum 1, so
// a constant image must stay exactly constant through both passes, at any scale.
func TestResizeKeepsConstantImageConstant(t *testing.T) {
	for _, v := range []uint8{0, 1, 127, 200, 255} {
		for _, sz := range [][2]int{{300, 400}, {31, 17}, {1000, 999}, {5, 3}} {
			src := pixmap{w: sz[0], h: sz[1], nc: 3, pix: bytes.Repeat([]byte{v}, sz[0]*sz[1]*3)}
			out := resizeCrop(src, 256, 224)
			for i, p := range out.pix {
				if p != v {
					t.Fatalf("constant %d, %dx%d: sample %d is %d", v, sz[0], sz[1], i, p)
				}
			}
		}
	}
}

// TestResizeKeepsRampMonotone: a horizontal ramp resized in both directions must stay
// non-decreasing along each row (the bicubic overshoot only appears at steps, and a ramp
// of slope 1 has none large enough to reverse the order after rounding).
func TestResizeKeepsRampMonotone(t *testing.T) {
	for _, sz := range [][2]int{{256, 40}, {200, 300}, {100, 100}, {255, 17}} {
		src := pixmap{w: sz[0], h: sz[1], nc: 1, pix: make([]uint8, sz[0]*sz[1])}
		for y := 0; y < sz[1]; y++ {
			for x := 0; x < sz[0]; x++ {
				src.pix[y*sz[0]+x] = uint8(x * 255 / (sz[0] - 1))
			}
		}
		for _, out := range []pixmap{
			resizeCrop(src, 256, 224),
			resizeWindow(src, sz[0]/3, sz[1]*2, 0, sz[0]/3, 0, sz[1]*2),
		} {
			for y := 0; y < out.h; y++ {
				row := out.pix[y*out.w : (y+1)*out.w]
				for x := 1; x < len(row); x++ {
					if row[x] < row[x-1] {
						t.Fatalf("%dx%d ramp -> %dx%d: row %d decreases at x=%d: %d then %d", sz[0], sz[1], out.w, out.h, y, x, row[x-1], row[x])
					}
				}
				if row[0] != out.pix[0] || row[len(row)-1] != out.pix[len(row)-1] {
					t.Fatalf("%dx%d ramp: row %d differs from row 0", sz[0], sz[1], y)
				}
			}
		}
	}
}

// TestBicubicKernelValues checks Keys' kernel with a = -0.5 at hand-computed points:
// W(0) = 1, W(0.5) = 0.5625, W(1) = 0, W(1.5) = -0.0625, W(2) = 0.
func TestBicubicKernelValues(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{{0, 1}, {0.5, 0.5625}, {-0.5, 0.5625}, {1, 0}, {1.5, -0.0625}, {-1.5, -0.0625}, {2, 0}, {3, 0}} {
		if got := bicubic(c.x); got != c.want { // exact: these are dyadic rationals
			t.Errorf("bicubic(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

// TestCMYKMatchesPillow compares cmykToRGB with Pillow's CMYK to RGB conversion for every
// (channel, black) pair.
func TestCMYKMatchesPillow(t *testing.T) {
	want := readGolden(t, "cmyk")
	for k := 0; k < 256; k++ {
		for c := 0; c < 256; c++ {
			if got, w := cmykToRGB(uint8(c), uint8(k)), want.pix[(k*256+c)*3]; got != w {
				t.Fatalf("cmykToRGB(%d, %d) = %d, Pillow %d", c, k, got, w)
			}
		}
	}
	// Cross-check the Go decoder's own CMYK image type against the same table.
	m := image.NewCMYK(image.Rect(0, 0, 1, 1))
	m.Pix = []uint8{10, 100, 200, 50}
	p := toPixmap(m)
	if p.pix[0] != cmykToRGB(10, 50) || p.pix[1] != cmykToRGB(100, 50) || p.pix[2] != cmykToRGB(200, 50) {
		t.Errorf("toPixmap(CMYK) = %v", p.pix)
	}
}

func BenchmarkResizeCrop500x375To224(b *testing.B) {
	src := noise(500, 375, 3)
	for b.Loop() {
		resizeCrop(src, 256, 224)
	}
}
