package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register the decoders the folder reader uses
	_ "image/jpeg"
	_ "image/png"
)

// toPixmap converts a decoded image to 8-bit RGB the way Pillow's convert("RGB") does,
// keeping grey images as one channel (the caller replicates it, which gives the same
// result as resampling three equal channels). Alpha is dropped without compositing,
// 16-bit samples keep their high byte, and CMYK uses Pillow's cmyk2rgb. JPEG colour
// (image.YCbCr) is converted as libjpeg, which Pillow uses, converts it: see
// upsampleChroma and yccToRGB.
func toPixmap(img image.Image) pixmap {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		p := pixmap{w: w, h: h, nc: 1, pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(p.pix[y*w:(y+1)*w], m.Pix[i:i+w])
		}
		return p
	case *image.Gray16:
		p := pixmap{w: w, h: h, nc: 1, pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				p.pix[y*w+x] = m.Pix[i+2*x]
			}
		}
		return p
	}
	p := pixmap{w: w, h: h, nc: 3, pix: make([]uint8, w*h*3)}
	set := func(x, y int, r, g, bl uint8) {
		o := (y*w + x) * 3
		p.pix[o], p.pix[o+1], p.pix[o+2] = r, g, bl
	}
	switch m := img.(type) {
	case *image.YCbCr:
		if b.Min != (image.Point{}) { // not from image/jpeg: sample the chroma as image.YCbCr does
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
					c := yccToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
					set(x, y, c[0], c[1], c[2])
				}
			}
			break
		}
		cb, cr := upsampleChroma(m, m.Cb), upsampleChroma(m, m.Cr)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := yccToRGB(m.Y[y*m.YStride+x], cb[y*w+x], cr[y*w+x])
				set(x, y, c[0], c[1], c[2])
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				set(x, y, m.Pix[i+4*x], m.Pix[i+4*x+1], m.Pix[i+4*x+2])
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8 // indices beyond the palette read as black
		for i, c := range m.Palette {
			if i < len(lut) {
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				lut[i] = [3]uint8{n.R, n.G, n.B}
			}
		}
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				c := lut[m.Pix[i+x]]
				set(x, y, c[0], c[1], c[2])
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				q := m.Pix[i+4*x : i+4*x+4]
				set(x, y, cmykToRGB(q[0], q[3]), cmykToRGB(q[1], q[3]), cmykToRGB(q[2], q[3]))
			}
		}
	default: // RGBA, NRGBA64, RGBA64 and anything else: un-premultiply, keep the high byte
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				set(x, y, uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8))
			}
		}
	}
	return p
}

// upsampleChroma returns the chroma plane p of m (its Cb or Cr) at full resolution, w*h
// row-major, interpolated as libjpeg(-turbo)'s default "fancy" upsampling does it
// (jdsample.c): a triangle filter, 3/4 of the nearer sample and 1/4 of the farther,
// horizontally for 4:2:2 (h2v1_fancy_upsample), vertically for 4:4:0
// (h1v2_fancy_upsample), and both for 4:2:0 (h2v2_fancy_upsample), with libjpeg's
// rounding biases and edge samples replicated. Like libjpeg, it replicates samples when
// the 4:2:2 or 4:2:0 chroma is at most 2 samples wide, and for 4:1:1 and 4:1:0. The Go
// decoder's own image.YCbCr sampling is nearest-neighbour, which differs from Pillow's
// decode by up to about 100 levels at colour edges. m must start at the origin, as images
// from image/jpeg do.
func upsampleChroma(m *image.YCbCr, p []uint8) []uint8 {
	w, h, cs := m.Rect.Dx(), m.Rect.Dy(), m.CStride
	out := make([]uint8, w*h)
	row := make([]uint8, w+1) // one spare for odd widths
	at := func(cx, cy int) int { return int(p[cy*cs+cx]) }
	switch cw, ch := (w+1)/2, (h+1)/2; {
	case m.SubsampleRatio == image.YCbCrSubsampleRatio444:
		for y := 0; y < h; y++ {
			copy(out[y*w:(y+1)*w], p[y*cs:y*cs+w])
		}
	case m.SubsampleRatio == image.YCbCrSubsampleRatio422 && cw > 2:
		for y := 0; y < h; y++ {
			row[0] = uint8(at(0, y))
			row[1] = uint8((at(0, y)*3 + at(1, y) + 2) >> 2)
			for cx := 1; cx < cw-1; cx++ {
				row[2*cx] = uint8((at(cx, y)*3 + at(cx-1, y) + 1) >> 2)
				row[2*cx+1] = uint8((at(cx, y)*3 + at(cx+1, y) + 2) >> 2)
			}
			l := cw - 1
			row[2*l] = uint8((at(l, y)*3 + at(l-1, y) + 1) >> 2)
			row[2*l+1] = uint8(at(l, y))
			copy(out[y*w:(y+1)*w], row)
		}
	case m.SubsampleRatio == image.YCbCrSubsampleRatio440:
		for y := 0; y < h; y++ {
			cy, near, bias := y/2, max(y/2-1, 0), 1 // even rows lean on the row above
			if y%2 == 1 {
				near, bias = min(cy+1, ch-1), 2
			}
			for x := 0; x < w; x++ {
				out[y*w+x] = uint8((at(x, cy)*3 + at(x, near) + bias) >> 2)
			}
		}
	case m.SubsampleRatio == image.YCbCrSubsampleRatio420 && cw > 2:
		sum := make([]int, cw)
		for y := 0; y < h; y++ {
			cy, near := y/2, max(y/2-1, 0)
			if y%2 == 1 {
				near = min(cy+1, ch-1)
			}
			for cx := range sum {
				sum[cx] = at(cx, cy)*3 + at(cx, near)
			}
			row[0] = uint8((sum[0]*4 + 8) >> 4)
			row[1] = uint8((sum[0]*3 + sum[1] + 7) >> 4)
			for cx := 1; cx < cw-1; cx++ {
				row[2*cx] = uint8((sum[cx]*3 + sum[cx-1] + 8) >> 4)
				row[2*cx+1] = uint8((sum[cx]*3 + sum[cx+1] + 7) >> 4)
			}
			l := cw - 1
			row[2*l] = uint8((sum[l]*3 + sum[l-1] + 8) >> 4)
			row[2*l+1] = uint8((sum[l]*4 + 7) >> 4)
			copy(out[y*w:(y+1)*w], row)
		}
	default: // replicate, as libjpeg's h2v1_upsample, h2v2_upsample and int_upsample do
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = p[m.COffset(x, y)-m.COffset(0, 0)]
			}
		}
	}
	return out
}

// libjpeg's YCbCr to RGB tables (jdcolor.c build_ycc_rgb_table), 16-bit fixed point.
var crToR, cbToB, crToG, cbToG = func() (crr, cbb, crg, cbg [256]int32) {
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crr[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbb[i] = (fix(1.77200)*x + 1<<15) >> 16
		crg[i] = -fix(0.71414) * x
		cbg[i] = -fix(0.34414)*x + 1<<15
	}
	return
}()

// yccToRGB converts one JPEG YCbCr sample to RGB as libjpeg's ycc_rgb_convert does:
// R = Y + round(1.402 Cr'), G = Y + floor((-0.34414 Cb' - 0.71414 Cr') * 2^16 + 2^15) / 2^16,
// B = Y + round(1.772 Cb'), with Cb' = Cb - 128, Cr' = Cr - 128, each clamped to [0, 255].
func yccToRGB(y, cb, cr uint8) [3]uint8 {
	clamp := func(v int32) uint8 { return uint8(min(max(v, 0), 255)) }
	yy := int32(y)
	return [3]uint8{clamp(yy + crToR[cr]), clamp(yy + (cbToG[cb]+crToG[cr])>>16), clamp(yy + cbToB[cb])}
}

// cmykToRGB is one channel of Pillow's cmyk2rgb (Convert.c):
// nk = 255 - k; out = clip(nk - MULDIV255(c, nk)), MULDIV255(a, b) = ((t >> 8) + t) >> 8
// with t = a*b + 128.
func cmykToRGB(c, k uint8) uint8 {
	nk := 255 - int(k)
	t := int(c)*nk + 128
	return uint8(max(nk-((t>>8)+t)>>8, 0))
}

// decodeTransform decodes one image file's bytes and applies the folder's transform into
// dst, which holds 3*crop*crop values in CHW order. The name is used in errors.
func decodeTransform(name string, data []byte, opts FolderOptions, dst []float32) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %v (the reader decodes JPEG, PNG and GIF): %w", name, err, ErrDecode)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%s: image is %dx%d pixels: %w", name, cfg.Width, cfg.Height, ErrDecode)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(opts.MaxPixels) {
		return fmt.Errorf("%s: image is %dx%d pixels, more than the %d allowed: %w",
			name, cfg.Width, cfg.Height, opts.MaxPixels, ErrDecode)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %v: %w", name, err, ErrDecode)
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > int64(opts.MaxPixels) {
		return fmt.Errorf("%s: decoded image is %dx%d pixels: %w", name, b.Dx(), b.Dy(), ErrDecode)
	}
	out := resizeCrop(toPixmap(img), opts.Resize, opts.Crop)
	plane := opts.Crop * opts.Crop
	for c := 0; c < 3; c++ {
		ch := dst[c*plane : (c+1)*plane]
		src := c % out.nc
		for i := range ch {
			ch[i] = byteToUnit[out.pix[i*out.nc+src]]
		}
	}
	return nil
}
