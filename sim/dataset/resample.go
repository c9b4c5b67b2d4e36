package dataset

import "math"

// pixmap is an 8-bit image with nc interleaved channels (1 or 3), row-major.
type pixmap struct {
	w, h, nc int
	pix      []uint8
}

// precisionBits is Pillow's fixed-point precision for 8-bit resampling coefficients.
const precisionBits = 32 - 8 - 2

// bicubic is Pillow's bicubic kernel, Keys' cubic convolution with a = -0.5, support 2.
// The explicit float64 conversions keep each product rounded on its own, as Pillow's C
// computes it, so that no fused multiply-add changes a coefficient's last bit.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64((a+2)*x) - (a + 3)
		return float64(float64(t*x)*x) + 1
	}
	if x < 2 {
		t := float64((x-5)*x) + 8
		t = float64(t*x) - 4
		return t * a
	}
	return 0
}

// filterBank holds Pillow's resampling coefficients for the outputs [lo, lo+n) of a
// resize from inSize to outSize samples.
type filterBank struct {
	lo, n  int
	ksize  int
	first  []int   // first input sample of each output
	count  []int   // number of input samples of each output
	coeffs []int32 // ksize fixed-point coefficients per output
}

// newFilterBank computes the coefficients for outputs [lo, hi) exactly as Pillow's
// precompute_coeffs and normalize_coeffs_8bpc do for the whole output (Resample.c), with
// the default box [0, inSize]:
//
//	scale = inSize / outSize; filterscale = max(scale, 1); support = 2 * filterscale
//	center = (xx + 0.5) * scale
//	xmin = max(int(center - support + 0.5), 0); xmax = min(int(center + support + 0.5), inSize)
//	k[x] = bicubic((x + xmin - center + 0.5) / filterscale), normalised to sum 1
//	fixed = round-half-away(k[x] * 2^22)
func newFilterBank(inSize, outSize, lo, hi int) filterBank {
	// Pillow computes (double)(in1 - in0) with in0, in1 single-precision floats.
	scale := float64(float32(inSize)) / float64(outSize)
	filterscale := max(scale, 1)
	support := 2 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	fb := filterBank{lo: lo, n: hi - lo, ksize: ksize,
		first: make([]int, hi-lo), count: make([]int, hi-lo), coeffs: make([]int32, (hi-lo)*ksize)}
	k := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := lo; xx < hi; xx++ {
		center := float64((float64(xx) + 0.5) * scale)
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := bicubic((float64(x+xmin) - center + 0.5) * ss)
			k[x] = w
			ww += w
		}
		out := fb.coeffs[(xx-lo)*ksize : (xx-lo+1)*ksize]
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				k[x] /= ww
			}
			if k[x] < 0 {
				out[x] = int32(-0.5 + k[x]*(1<<precisionBits))
			} else {
				out[x] = int32(0.5 + k[x]*(1<<precisionBits))
			}
		}
		fb.first[xx-lo], fb.count[xx-lo] = xmin, xmax
	}
	return fb
}

// clip8 converts a fixed-point accumulator to a byte, as Pillow's clip8 does.
func clip8(v int32) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}

// resampleRows runs Pillow's horizontal pass (ImagingResampleHorizontal_8bpc) over the
// source rows [r0, r1), producing fb.n columns.
func resampleRows(src pixmap, r0, r1 int, fb filterBank) pixmap {
	nc := src.nc
	out := pixmap{w: fb.n, h: r1 - r0, nc: nc, pix: make([]uint8, fb.n*(r1-r0)*nc)}
	for y := r0; y < r1; y++ {
		row := src.pix[y*src.w*nc : (y+1)*src.w*nc]
		orow := out.pix[(y-r0)*fb.n*nc:]
		for xx := 0; xx < fb.n; xx++ {
			k := fb.coeffs[xx*fb.ksize : xx*fb.ksize+fb.count[xx]]
			in := row[fb.first[xx]*nc:]
			for c := 0; c < nc; c++ {
				ss := int32(1 << (precisionBits - 1))
				for x, kx := range k {
					ss += int32(in[x*nc+c]) * kx
				}
				orow[xx*nc+c] = clip8(ss)
			}
		}
	}
	return out
}

// resampleCols runs Pillow's vertical pass (ImagingResampleVertical_8bpc) over src, whose
// first row is source row r0, producing fb.n rows.
func resampleCols(src pixmap, r0 int, fb filterBank) pixmap {
	nc, stride := src.nc, src.w*src.nc
	out := pixmap{w: src.w, h: fb.n, nc: nc, pix: make([]uint8, src.w*fb.n*nc)}
	for yy := 0; yy < fb.n; yy++ {
		k := fb.coeffs[yy*fb.ksize : yy*fb.ksize+fb.count[yy]]
		base := (fb.first[yy] - r0) * stride
		orow := out.pix[yy*stride : (yy+1)*stride]
		for i := range orow {
			ss := int32(1 << (precisionBits - 1))
			for y, ky := range k {
				ss += int32(src.pix[base+y*stride+i]) * ky
			}
			orow[i] = clip8(ss)
		}
	}
	return out
}

// resizedSize is torchvision's size for Resize(size) with an int size: the shorter side
// becomes size and the longer int(size * long / short), computed in floating point.
func resizedSize(w, h, size int) (nw, nh int) {
	short, long := w, h
	if w > h {
		short, long = h, w
	}
	newLong := int(float64(size) * float64(long) / float64(short))
	if w <= h {
		return size, newLong
	}
	return newLong, size
}

// cropOffset is torchvision's CenterCrop offset along a side of n pixels: int(round((n -
// crop) / 2)) with Python's round half to even, or, when the crop is larger than the side,
// minus the zero padding torchvision adds before it, (crop - n) // 2.
func cropOffset(n, crop int) int {
	if crop > n {
		return -((crop - n) / 2)
	}
	return int(math.RoundToEven(float64(n-crop) / 2))
}

// resizeCrop applies torchvision's Resize(resize, BICUBIC) to a Pillow image and then
// CenterCrop(crop), returning the crop x crop result. Only the pixels that survive the
// crop are computed (see resizeWindow).
func resizeCrop(src pixmap, resize, crop int) pixmap {
	nw, nh := resizedSize(src.w, src.h, resize)
	left, top := cropOffset(nw, crop), cropOffset(nh, crop)
	// The window of the resized image inside the crop.
	x0, x1 := max(left, 0), min(left+crop, nw)
	y0, y1 := max(top, 0), min(top+crop, nh)
	mid := resizeWindow(src, nw, nh, x0, x1, y0, y1)
	if x0 == left && y0 == top && mid.w == crop && mid.h == crop {
		return mid
	}
	// Zero padding around a window smaller than the crop.
	nc := src.nc
	out := pixmap{w: crop, h: crop, nc: nc, pix: make([]uint8, crop*crop*nc)}
	for y := 0; y < mid.h; y++ {
		o := ((y+y0-top)*crop + x0 - left) * nc
		copy(out.pix[o:o+mid.w*nc], mid.pix[y*mid.w*nc:(y+1)*mid.w*nc])
	}
	return out
}

// resizeWindow returns the window [x0, x1) x [y0, y1) of src resized to nw x nh with
// Pillow's bicubic Image.resize. Each pixel is computed exactly as Pillow's two-pass
// resample (horizontal pass, rounding to bytes, vertical pass) computes it, since each
// output pixel of a pass depends only on its own coefficients and input samples. A pass
// whose size does not change is skipped, as Pillow skips it.
func resizeWindow(src pixmap, nw, nh, x0, x1, y0, y1 int) pixmap {
	nc := src.nc
	var vfb filterBank
	r0, r1 := y0, y1 // the source rows the window needs
	if nh != src.h {
		vfb = newFilterBank(src.h, nh, y0, y1)
		r0 = vfb.first[0]
		r1 = vfb.first[vfb.n-1] + vfb.count[vfb.n-1]
	}
	var mid pixmap
	if nw != src.w {
		mid = resampleRows(src, r0, r1, newFilterBank(src.w, nw, x0, x1))
	} else {
		mid = pixmap{w: x1 - x0, h: r1 - r0, nc: nc, pix: make([]uint8, (x1-x0)*(r1-r0)*nc)}
		for y := r0; y < r1; y++ {
			copy(mid.pix[(y-r0)*mid.w*nc:(y-r0+1)*mid.w*nc], src.pix[(y*src.w+x0)*nc:(y*src.w+x1)*nc])
		}
	}
	if nh != src.h {
		mid = resampleCols(mid, r0, vfb)
	}
	return mid
}
