package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// encode returns img encoded as format "png", "jpeg" or "gif".
func encode(t testing.TB, img image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noiseImage returns noise(w, h, 3) as an opaque RGBA image.
func noiseImage(w, h int) *image.NRGBA {
	p := noise(w, h, 3)
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = p.pix[3*i], p.pix[3*i+1], p.pix[3*i+2], 255
	}
	return m
}

// uniform returns a w x h image of one colour.
func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = c.R, c.G, c.B, c.A
	}
	return m
}

// writeFile writes b to root/rel, making folders.
func writeFile(t *testing.T, root, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFolderOrderMatchesImageFolder checks torchvision's ImageFolder order: classes are
// folder names sorted byte-wise; within a class, sorted(os.walk(...)) orders folders by
// path ("a/s" < "a/s-t" < "a/s/u", since '-' < '/') and files by name; only files with an
// image extension, in any case, count.
func TestFolderOrderMatchesImageFolder(t *testing.T) {
	root := t.TempDir()
	small := encode(t, uniform(4, 4, color.NRGBA{10, 20, 30, 255}), "png")
	for _, rel := range []string{
		"b/x.png", "B/x.png", "_x/x.png", "a b/x.png",
		"a/2.png", "a/10.PNG", "a/1.jpeg", "a/z.JPG", "a/readme.txt", "a/noext",
		"a/s/0.png", "a/s-t/0.png", "a/s/u/0.png", "a/s/u/.hidden.webp",
	} {
		writeFile(t, root, rel, small)
	}
	if err := os.WriteFile(filepath.Join(root, "toplevel.png"), small, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFolder(root, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantClasses := []string{"B", "_x", "a", "a b", "b"}
	if got := f.Classes(); !slices.Equal(got, wantClasses) {
		t.Errorf("classes %q, want %q", got, wantClasses)
	}
	want := []struct {
		rel   string
		label int
	}{
		{"B/x.png", 0}, {"_x/x.png", 1},
		{"a/1.jpeg", 2}, {"a/10.PNG", 2}, {"a/2.png", 2}, {"a/z.JPG", 2},
		{"a/s/0.png", 2}, {"a/s-t/0.png", 2}, {"a/s/u/.hidden.webp", 2}, {"a/s/u/0.png", 2},
		{"a b/x.png", 3}, {"b/x.png", 4},
	}
	if f.Len() != len(want) || f.NumClasses() != 5 {
		t.Fatalf("%d images in %d classes, want %d in 5", f.Len(), f.NumClasses(), len(want))
	}
	for i, w := range want {
		if got := f.Path(i); got != filepath.Join(root, filepath.FromSlash(w.rel)) {
			t.Errorf("image %d is %s, want %s", i, got, w.rel)
		}
		if f.labels[i] != w.label {
			t.Errorf("image %d (%s) has label %d, want %d", i, w.rel, f.labels[i], w.label)
		}
	}
	if f.Name() != filepath.Base(root) {
		t.Errorf("Name = %q, want %q", f.Name(), filepath.Base(root))
	}
}

// TestFolderTransformGeometry: a 300 x 400 (w x h) image is resized to 256 x 341 and
// centre-cropped to 224 x 224 from (16, 58); Image must give exactly resizeCrop's bytes
// divided by 255, in CHW order.
func TestFolderTransformGeometry(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "cls/img.png", encode(t, noiseImage(300, 400), "png"))
	f, err := OpenFolder(root, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := f.Shape(); c != 3 || h != 224 || w != 224 {
		t.Fatalf("Shape = %d,%d,%d, want 3,224,224", c, h, w)
	}
	dst := make([]float32, 3*224*224)
	if _, err := f.Image(0, dst); err != nil {
		t.Fatal(err)
	}
	ref := resizeCrop(noise(300, 400, 3), 256, 224)
	for c := 0; c < 3; c++ {
		for i := 0; i < 224*224; i++ {
			if got, want := dst[c*224*224+i], float32(ref.pix[3*i+c])/255; got != want {
				t.Fatalf("channel %d pixel %d: %v, want %v", c, i, got, want)
			}
		}
	}
}

// TestFolderImageFormats decodes PNG (grey, RGBA, paletted, 16-bit), JPEG (colour,
// grey) and GIF files of one colour: the transform keeps a constant image constant, so
// every output value must be the colour, exactly for lossless formats and within 2/255
// for JPEG, whose quantisation and colour conversion round.
func TestFolderImageFormats(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 50, 30))
	for i := range grey.Pix {
		grey.Pix[i] = 77
	}
	grey16 := image.NewGray16(image.Rect(0, 0, 30, 50))
	for i := 0; i < len(grey16.Pix); i += 2 {
		grey16.Pix[i], grey16.Pix[i+1] = 77, 0xff // high byte 77
	}
	pal := image.NewPaletted(image.Rect(0, 0, 40, 40), color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 100, 50, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = 1
	}
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, 20, 20))
	for i := 0; i < len(rgba64.Pix); i += 8 {
		copy(rgba64.Pix[i:], []byte{200, 1, 100, 2, 50, 3, 255, 255})
	}
	translucent := uniform(33, 33, color.NRGBA{200, 100, 50, 128}) // alpha is dropped, as Pillow's convert("RGB")
	colour := [3]float32{200, 100, 50}
	greyV := [3]float32{77, 77, 77}
	tests := []struct {
		name string
		data []byte
		want [3]float32
		tol  float32
	}{
		{"grey.png", encode(t, grey, "png"), greyV, 0},
		{"grey16.png", encode(t, grey16, "png"), greyV, 0},
		{"rgba.png", encode(t, translucent, "png"), colour, 0},
		{"palette.png", encode(t, pal, "png"), colour, 0},
		{"deep.png", encode(t, rgba64, "png"), colour, 0},
		{"gif-content.png", encode(t, pal, "gif"), colour, 0}, // .gif is not an ImageFolder extension; content decides the decoder
		{"grey.jpg", encode(t, grey, "jpeg"), greyV, 2},
		{"colour.jpg", encode(t, uniform(64, 48, color.NRGBA{200, 100, 50, 255}), "jpeg"), colour, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "c/"+tt.name, tt.data)
			f, err := OpenFolder(root, FolderOptions{Resize: 20, Crop: 16})
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]float32, 3*16*16)
			if _, err := f.Image(0, dst); err != nil {
				t.Fatal(err)
			}
			for i, v := range dst {
				c := i / (16 * 16)
				if d := v*255 - tt.want[c]; d > tt.tol+1e-3 || d < -tt.tol-1e-3 {
					t.Fatalf("value %d (channel %d) = %v*255, want %v ± %v", i, c, v*255, tt.want[c], tt.tol)
				}
			}
		})
	}
}

func TestFolderErrors(t *testing.T) {
	png1 := encode(t, uniform(4, 4, color.NRGBA{1, 2, 3, 255}), "png")
	t.Run("no classes", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "loose.png", png1)
		if _, err := OpenFolder(root, FolderOptions{}); !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), root) {
			t.Errorf("got %v, want ErrEmpty naming %s", err, root)
		}
	})
	t.Run("empty class", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "full/a.png", png1)
		writeFile(t, root, "empty/notes.txt", []byte("x"))
		if _, err := OpenFolder(root, FolderOptions{}); !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), filepath.Join(root, "empty")) {
			t.Errorf("got %v, want ErrEmpty naming the empty class folder", err)
		}
	})
	t.Run("missing root", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "absent")
		if _, err := OpenFolder(root, FolderOptions{}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "absent") {
			t.Errorf("got %v, want a not-exist error naming the folder", err)
		}
	})
	t.Run("options", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "c/a.png", png1)
		for _, o := range []FolderOptions{{Resize: -1}, {Crop: -5}, {Resize: 1 << 20}, {MaxPixels: -1}} {
			if _, err := OpenFolder(root, o); !errors.Is(err, ErrSpec) {
				t.Errorf("options %+v: got %v, want ErrSpec", o, err)
			}
		}
	})
	bmp := append([]byte("BM"), make([]byte, 60)...)
	for _, c := range []struct {
		name  string
		data  []byte
		opts  FolderOptions
		words []string
	}{
		{"garbage.jpg", []byte("not an image at all"), FolderOptions{}, []string{"JPEG, PNG and GIF"}},
		{"picture.bmp", bmp, FolderOptions{}, []string{"JPEG, PNG and GIF"}},
		{"cut.png", png1[:len(png1)-20], FolderOptions{}, nil},
		{"big.png", encode(t, uniform(100, 100, color.NRGBA{A: 255}), "png"), FolderOptions{MaxPixels: 9999}, []string{"100x100"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "cls/"+c.name, c.data)
			f, err := OpenFolder(root, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Image(0, make([]float32, 3*224*224))
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), filepath.Join(root, "cls", c.name)) {
				t.Fatalf("got %v, want ErrDecode naming the file", err)
			}
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestFolderConcurrentImages decodes every image from several goroutines at once (run
// with -race) and checks each matches a sequential decode.
func TestFolderConcurrentImages(t *testing.T) {
	root := t.TempDir()
	for i, sz := range [][2]int{{30, 40}, {41, 29}, {64, 64}, {17, 90}} {
		writeFile(t, root, string(rune('a'+i%2))+"/"+string(rune('0'+i))+".png", encode(t, noiseImage(sz[0], sz[1]), "png"))
	}
	f, err := OpenFolder(root, FolderOptions{Resize: 32, Crop: 24})
	if err != nil {
		t.Fatal(err)
	}
	n := 3 * 24 * 24
	want := make([][]float32, f.Len())
	for i := range want {
		want[i] = make([]float32, n)
		if _, err := f.Image(i, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*f.Len())
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			dst := make([]float32, n)
			for i := range f.Len() {
				if _, err := f.Image((i+g)%f.Len(), dst); err != nil {
					errs <- err
					return
				}
				if !slices.Equal(dst, want[(i+g)%f.Len()]) {
					errs <- errors.New("concurrent decode differs from sequential")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzDecodeTransform feeds arbitrary bytes to the folder reader's decode and transform
// path as one image file: it must return an error or fill the buffer, never panic.
func FuzzDecodeTransform(f *testing.F) {
	grey := image.NewGray(image.Rect(0, 0, 7, 5))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 9)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 6, 6), color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	g16 := image.NewGray16(image.Rect(0, 0, 3, 9))
	f.Add(encode(f, noiseImage(9, 13), "png"))
	f.Add(encode(f, grey, "png"))
	f.Add(encode(f, pal, "png"))
	f.Add(encode(f, g16, "png"))
	f.Add(encode(f, noiseImage(17, 11), "jpeg"))
	f.Add(encode(f, grey, "jpeg"))
	f.Add(encode(f, pal, "gif"))
	f.Add([]byte("BM"))
	for _, name := range []string{"444", "422", "440", "411", "420_narrow", "420_progressive"} {
		b, err := os.ReadFile(filepath.Join("testdata", "pil", "jpeg_"+name+".jpg"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	opts := FolderOptions{Resize: 16, Crop: 12, MaxPixels: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		dst := make([]float32, 3*12*12)
		if err := decodeTransform("fuzz.png", data, opts, dst); err != nil {
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "fuzz.png") {
				t.Fatalf("error %v is not ErrDecode naming the file", err)
			}
			return
		}
		for i, v := range dst {
			if v < 0 || v > 1 {
				t.Fatalf("value %d = %v outside [0, 1]", i, v)
			}
		}
	})
}

func BenchmarkFolderImageJPEG500x375(b *testing.B) {
	root := b.TempDir()
	p := filepath.Join(root, "c", "x.jpg")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, encode(b, noiseImage(500, 375), "jpeg"), 0o644)
	f, err := OpenFolder(root, FolderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	for b.Loop() {
		if _, err := f.Image(0, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFolderFollowsLinksWithoutLooping: links to folders are followed, as
// os.walk(followlinks=True) follows them, but a link back up the tree is not walked
// again.
func TestFolderFollowsLinksWithoutLooping(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	png1 := encode(t, uniform(4, 4, color.NRGBA{1, 2, 3, 255}), "png")
	writeFile(t, root, "real/a.png", png1)
	writeFile(t, elsewhere, "linked/b.png", png1)
	if err := os.Symlink(filepath.Join(elsewhere, "linked"), filepath.Join(root, "linked")); err != nil {
		t.Skipf("cannot make symbolic links here: %v", err)
	}
	if err := os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "real", "loop")); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFolder(root, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Classes(); !slices.Equal(got, []string{"linked", "real"}) {
		t.Errorf("classes %q, want [linked real]", got)
	}
	if f.Len() != 2 || f.Path(0) != filepath.Join(root, "linked", "b.png") || f.Path(1) != filepath.Join(root, "real", "a.png") {
		t.Errorf("got %d images, first %s", f.Len(), f.Path(0))
	}
}
