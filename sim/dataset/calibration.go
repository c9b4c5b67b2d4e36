package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Opener opens the split of the data set a spec names, as Open does; a caller that keeps
// opened data sets passes its own.
type Opener func(spec, split string) (Dataset, error)

// CalibrationSet returns the images on which to calibrate an evaluation of the data set
// spec names, when the user names no calibration set. eval is the data set being
// evaluated, opened from spec. The first n images of the result are the calibration
// sample, for any n:
//
//   - IDX data (a named data set, idx:DIR, or a folder of IDX files): the train split.
//   - An image folder with a "train" sub-folder: that train split, never the images
//     being evaluated.
//   - Any other image folder: the evaluated images taken class by class in turn
//     (ClassInterleaved), a class-stratified sample. Its Name says so.
//
// The rule lives here alone so that every caller (eval, the sweep worker) calibrates on
// the same images.
func CalibrationSet(spec string, eval Dataset, open Opener) (Dataset, error) {
	f, ok := eval.(*Folder)
	if !ok {
		return open(spec, "train")
	}
	if dir, ok := folderDir(spec); ok && hasSubdir(dir, "train") {
		return open(spec, "train")
	}
	return ClassInterleaved(f), nil
}

// folderDir is the folder an image-folder spec names.
func folderDir(spec string) (string, bool) {
	switch {
	case strings.HasPrefix(spec, "folder:"):
		return strings.TrimPrefix(spec, "folder:"), true
	case spec == "mnist" || spec == "fashion-mnist" || strings.HasPrefix(spec, "idx:"):
		return "", false
	}
	return spec, true
}

func hasSubdir(dir, name string) bool {
	fi, err := os.Stat(filepath.Join(dir, name))
	return err == nil && fi.IsDir()
}

// interleaved is a folder's images in class-stratified order.
type interleaved struct {
	f     *Folder
	order []int // order[i] is the folder index of image i
	name  string
}

// ClassInterleaved returns f's images reordered round robin over the classes: the first
// image of each class in label order, then the second of each class that has one, and so
// on. Its first n images are a class-stratified sample of f; the order is fixed by the
// folder's listing alone.
func ClassInterleaved(f *Folder) Dataset {
	byClass := make([][]int, len(f.classes))
	for i, l := range f.labels {
		byClass[l] = append(byClass[l], i)
	}
	order := make([]int, 0, len(f.files))
	for round := 0; len(order) < len(f.files); round++ {
		for _, imgs := range byClass {
			if round < len(imgs) {
				order = append(order, imgs[round])
			}
		}
	}
	name := fmt.Sprintf("%s, class-stratified (round robin over %d classes)", f.name, len(f.classes))
	return &interleaved{f: f, order: order, name: name}
}

// Name implements Dataset.
func (d *interleaved) Name() string { return d.name }

// Len implements Dataset.
func (d *interleaved) Len() int { return len(d.order) }

// Shape implements Dataset.
func (d *interleaved) Shape() (c, h, w int) { return d.f.Shape() }

// NumClasses implements Dataset.
func (d *interleaved) NumClasses() int { return d.f.NumClasses() }

// Image implements Dataset.
func (d *interleaved) Image(i int, dst []float32) (int, error) {
	if i < 0 || i >= len(d.order) {
		return 0, fmt.Errorf("%s: image %d out of range [0, %d): %w", d.name, i, len(d.order), ErrIndex)
	}
	return d.f.Image(d.order[i], dst)
}

// identifier is a data set that can say what its images are made of.
type identifier interface {
	// identify writes to h what image i is made of: its bytes, or its file's path, size
	// and modification time and the transform that reads it.
	identify(h io.Writer, i int) error
}

// Fingerprint returns a hex SHA-256 that identifies the first n images of d (all of them
// if n exceeds its length) by what they are made of: the pixel bytes of IDX data; for an
// image folder each file's absolute path, size and modification time, its label and the
// transform's sizes. Two folders with the same name but other files get other
// fingerprints; a file rewritten in place changes it. Data sets of other types have none:
// the error wraps ErrSpec.
func Fingerprint(d Dataset, n int) (string, error) {
	id, ok := d.(identifier)
	if !ok {
		return "", fmt.Errorf("%s: cannot identify the images of a %T: %w", d.Name(), d, ErrSpec)
	}
	h := sha256.New()
	c, hh, w := d.Shape()
	n = min(max(n, 0), d.Len())
	fmt.Fprintf(h, "%T %dx%dx%d %d classes %d of %d images\n", d, c, hh, w, d.NumClasses(), n, d.Len())
	for i := 0; i < n; i++ {
		if err := id.identify(h, i); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (d *IDX) identify(h io.Writer, i int) error {
	size := d.rows * d.cols
	h.Write(d.pixels[i*size : (i+1)*size])
	h.Write(d.labels[i : i+1])
	return nil
}

func (f *Folder) identify(h io.Writer, i int) error {
	p := f.files[i]
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%s: image %d: %w", f.name, i, err)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	_, err = fmt.Fprintf(h, "%q %d %d label %d resize %d crop %d\n", p, fi.Size(), fi.ModTime().UnixNano(), f.labels[i], f.opts.Resize, f.opts.Crop)
	return err
}

func (d *interleaved) identify(h io.Writer, i int) error { return d.f.identify(h, d.order[i]) }

func (s *slice) identify(h io.Writer, i int) error {
	id, ok := s.d.(identifier)
	if !ok {
		return fmt.Errorf("%s: cannot identify the images of a %T: %w", s.Name(), s.d, ErrSpec)
	}
	return id.identify(h, s.start+i)
}
