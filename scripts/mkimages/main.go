// Command mkimages writes an ImageNet-style image folder of seeded random
// images, for timing and memory checks of `clipformer eval --data folder:DIR`:
//
//	DIR/class_000/img_0000.png
//	DIR/class_000/img_0001.png
//	...
//	DIR/class_001/img_0000.png
//
// The N images are dealt to the C classes in turn (image i goes to class
// i mod C). Each image is a smooth random colour gradient with a few random
// rectangles and per-pixel noise, so it compresses like a photograph rather
// than like white noise. The same flags always give the same files.
//
// Usage:
//
//	go run ./scripts/mkimages -out DIR -n 64 -classes 2 -size 256x256 -seed 1 -format jpg
//
// Only the standard library is used.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type options struct {
	out     string
	n       int
	classes int
	w, h    int
	seed    uint64
	format  string
	quality int
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mkimages:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	for c := 0; c < o.classes; c++ {
		if err := os.MkdirAll(filepath.Join(o.out, className(c)), 0o755); err != nil {
			return err
		}
	}
	var bytes int64
	for i := 0; i < o.n; i++ {
		img := randomImage(o.w, o.h, o.seed, uint64(i))
		path := filepath.Join(o.out, className(i%o.classes), fmt.Sprintf("img_%04d.%s", i/o.classes, o.format))
		size, err := writeImage(path, img, o)
		if err != nil {
			return err
		}
		bytes += size
	}
	fmt.Fprintf(stdout, "wrote %d %dx%d %s images in %d classes under %s (%.1f MB)\n",
		o.n, o.w, o.h, o.format, o.classes, o.out, float64(bytes)/1e6)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("mkimages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.out, "out", "", "folder to write (created if missing); required")
	fs.IntVar(&o.n, "n", 64, "number of images in all")
	fs.IntVar(&o.classes, "classes", 2, "number of class folders")
	size := fs.String("size", "256x256", "image size WxH in pixels")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random images")
	fs.StringVar(&o.format, "format", "png", "png or jpg")
	fs.IntVar(&o.quality, "quality", 90, "JPEG quality, 1 to 100")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.out == "" {
		return nil, fmt.Errorf("-out is required")
	}
	if o.n < 1 || o.classes < 1 || o.classes > 1000 || o.n/o.classes >= 10000 {
		return nil, fmt.Errorf("-n %d -classes %d: want n >= 1, 1 <= classes <= 1000 and under 10000 images per class", o.n, o.classes)
	}
	ws, hs, ok := strings.Cut(strings.ToLower(*size), "x")
	var err1, err2 error
	o.w, err1 = strconv.Atoi(ws)
	o.h, err2 = strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || o.w < 1 || o.h < 1 || o.w > 8192 || o.h > 8192 {
		return nil, fmt.Errorf("-size %q: want WxH with sides in [1, 8192], e.g. 256x256", *size)
	}
	switch o.format {
	case "jpeg":
		o.format = "jpg"
	case "jpg", "png":
	default:
		return nil, fmt.Errorf("-format %q: want png or jpg", o.format)
	}
	if o.quality < 1 || o.quality > 100 {
		return nil, fmt.Errorf("-quality %d: want 1 to 100", o.quality)
	}
	return o, nil
}

func className(c int) string { return fmt.Sprintf("class_%03d", c) }

// randomImage draws image index i of the given seed: a bilinear gradient
// between four random corner colours, a few random flat rectangles, and
// uniform noise of +-12 levels per channel.
func randomImage(w, h int, seed, i uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, i))
	var corner [4][3]float64
	for c := range corner {
		for ch := range corner[c] {
			corner[c][ch] = r.Float64() * 255
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		fy := float64(y) / float64(max(h-1, 1))
		for x := 0; x < w; x++ {
			fx := float64(x) / float64(max(w-1, 1))
			var px [3]uint8
			for ch := range px {
				top := corner[0][ch]*(1-fx) + corner[1][ch]*fx
				bottom := corner[2][ch]*(1-fx) + corner[3][ch]*fx
				px[ch] = clamp8(top*(1-fy) + bottom*fy)
			}
			img.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	for k := 1 + r.IntN(4); k > 0; k-- {
		x0, y0 := r.IntN(w), r.IntN(h)
		x1, y1 := min(w, x0+1+r.IntN(max(w/2, 1))), min(h, y0+1+r.IntN(max(h/2, 1)))
		fill := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.SetRGBA(x, y, fill)
			}
		}
	}
	for p := 0; p < len(img.Pix); p += 4 {
		for ch := 0; ch < 3; ch++ {
			img.Pix[p+ch] = clamp8(float64(img.Pix[p+ch]) + float64(r.IntN(25)-12))
		}
	}
	return img
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// writeImage encodes img to path and returns the file's size.
func writeImage(path string, img image.Image, o *options) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(f)
	if o.format == "jpg" {
		err = jpeg.Encode(bw, img, &jpeg.Options{Quality: o.quality})
	} else {
		err = png.Encode(bw, img)
	}
	if err == nil {
		err = bw.Flush()
	}
	var size int64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return size, nil
}
