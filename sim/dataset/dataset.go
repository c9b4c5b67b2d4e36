package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps one of them, or an error
// from the os package for a file that cannot be read.
var (
	// ErrFormat reports a file that is not what it should be: a bad IDX magic number or
	// dimension, trailing bytes, corrupt gzip data.
	ErrFormat = errors.New("dataset: malformed file")
	// ErrTruncated reports a file that ends before its last record.
	ErrTruncated = errors.New("dataset: truncated file")
	// ErrMismatch reports an image file and a label file that disagree.
	ErrMismatch = errors.New("dataset: images and labels disagree")
	// ErrEmpty reports a data set, a folder or a class with no images.
	ErrEmpty = errors.New("dataset: no images")
	// ErrDecode reports an image file that cannot be decoded.
	ErrDecode = errors.New("dataset: cannot decode image")
	// ErrNotFound reports a named data set found in none of the places searched.
	ErrNotFound = errors.New("dataset: not found")
	// ErrSpec reports a bad data set spec, split or option.
	ErrSpec = errors.New("dataset: bad spec")
	// ErrIndex reports an image index out of range or a destination buffer of the wrong
	// length.
	ErrIndex = errors.New("dataset: bad image index or buffer")
	// ErrFit reports a data set whose images do not fit a model's input.
	ErrFit = errors.New("dataset: images do not fit the model")
)

// Dataset is a fixed, indexed set of labelled images of one shape.
type Dataset interface {
	// Name identifies the data set in errors and reports, e.g. "mnist-test".
	Name() string
	// Len is the number of images.
	Len() int
	// Shape is the shape of every image: channels, height, width.
	Shape() (c, h, w int)
	// NumClasses is the number of classes; labels lie in [0, NumClasses).
	NumClasses() int
	// Image fills dst, of length c*h*w, with image i in CHW order, each value the pixel
	// byte divided by 255 (in [0, 1], not normalised), and returns its label. It is safe
	// to call concurrently.
	Image(i int, dst []float32) (label int, err error)
}

// checkImageArgs validates Image's index and buffer against a data set.
func checkImageArgs(d Dataset, i int, dst []float32) error {
	if i < 0 || i >= d.Len() {
		return fmt.Errorf("%s: image %d out of range [0, %d): %w", d.Name(), i, d.Len(), ErrIndex)
	}
	c, h, w := d.Shape()
	if len(dst) != c*h*w {
		return fmt.Errorf("%s: image %d: buffer holds %d values, want %dx%dx%d = %d: %w",
			d.Name(), i, len(dst), c, h, w, c*h*w, ErrIndex)
	}
	return nil
}

// slice is a contiguous range of another data set.
type slice struct {
	d        Dataset
	start, n int
}

// Slice returns the n images of d starting at image start, indexed from 0. The range
// is clamped to d: a negative start counts as 0, a start past the end gives an empty data
// set, and a negative n, or one reaching past the end, takes every image from start on.
// The result's Name is d's with the range appended, as in "mnist-test[100:200]".
func Slice(d Dataset, start, n int) Dataset {
	total := d.Len()
	start = min(max(start, 0), total)
	if n < 0 || n > total-start {
		n = total - start
	}
	return &slice{d: d, start: start, n: n}
}

// Name implements Dataset.
func (s *slice) Name() string { return fmt.Sprintf("%s[%d:%d]", s.d.Name(), s.start, s.start+s.n) }

// Len implements Dataset.
func (s *slice) Len() int { return s.n }

// Shape implements Dataset.
func (s *slice) Shape() (c, h, w int) { return s.d.Shape() }

// NumClasses implements Dataset.
func (s *slice) NumClasses() int { return s.d.NumClasses() }

// Image implements Dataset.
func (s *slice) Image(i int, dst []float32) (int, error) {
	if i < 0 || i >= s.n {
		return 0, fmt.Errorf("%s: image %d out of range [0, %d): %w", s.Name(), i, s.n, ErrIndex)
	}
	return s.d.Image(s.start+i, dst)
}

// CheckFits returns nil if d's images fit a model that takes c channels of h x w pixels,
// else an error that wraps ErrFit and names the data set and both shapes.
func CheckFits(d Dataset, c, h, w int) error {
	dc, dh, dw := d.Shape()
	switch {
	case dc != c && (dh != h || dw != w):
		return fmt.Errorf("data set %s: images are %dx%dx%d (channels x height x width), the model takes %dx%dx%d: %w",
			d.Name(), dc, dh, dw, c, h, w, ErrFit)
	case dc != c:
		return fmt.Errorf("data set %s: images have %d channel(s), the model takes %d: %w", d.Name(), dc, c, ErrFit)
	case dh != h || dw != w:
		return fmt.Errorf("data set %s: images are %dx%d pixels (height x width), the model takes %dx%d: %w",
			d.Name(), dh, dw, h, w, ErrFit)
	}
	return nil
}

// Open opens the data set a spec names, for a split, "train" or "test":
//
//   - "mnist" and "fashion-mnist": the named IDX data set, found by Locate;
//   - "idx:DIR": a folder holding the standard IDX file names (see OpenIDXDir);
//   - "folder:DIR": an ImageNet-style folder (see OpenFolder) with default options;
//   - "DIR": a folder of IDX files if it holds the split's two files, else an image folder.
//
// An image folder that has sub-folders named "train", "val" or "test" is split-organised:
// the split's sub-folder is the class root ("val" serves as "test" when there is no
// "test"). Any other image folder is itself the class root, whatever the split. Errors
// name the spec.
func Open(spec, split string) (Dataset, error) {
	d, err := open(spec, split)
	if err != nil {
		return nil, fmt.Errorf("data set %q: %w", spec, err)
	}
	return d, nil
}

func open(spec, split string) (Dataset, error) {
	switch {
	case spec == "mnist" || spec == "fashion-mnist":
		return openNamed(spec, split)
	case strings.HasPrefix(spec, "idx:"):
		return OpenIDXDir(strings.TrimPrefix(spec, "idx:"), split)
	case strings.HasPrefix(spec, "folder:"):
		return openFolderSplit(strings.TrimPrefix(spec, "folder:"), split)
	case spec == "":
		return nil, fmt.Errorf("empty spec (want mnist, fashion-mnist, idx:DIR, folder:DIR or DIR): %w", ErrSpec)
	}
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("not a known data set name (mnist, fashion-mnist) nor a folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder: %w", spec, ErrSpec)
	}
	if _, _, err := idxFiles(spec, split); err == nil {
		return OpenIDXDir(spec, split)
	}
	return openFolderSplit(spec, split)
}

// splitNames are the sub-folder names that mark an image folder as split-organised.
var splitNames = []string{"train", "val", "test"}

// openFolderSplit opens an image folder for a split as Open describes.
func openFolderSplit(dir, split string) (*Folder, error) {
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("split %q (want train or test): %w", split, ErrSpec)
	}
	has := map[string]bool{}
	for _, s := range splitNames {
		if fi, err := os.Stat(filepath.Join(dir, s)); err == nil && fi.IsDir() {
			has[s] = true
		}
	}
	root := dir
	switch {
	case has[split]:
		root = filepath.Join(dir, split)
	case split == "test" && has["val"]:
		root = filepath.Join(dir, "val")
	case len(has) > 0:
		return nil, fmt.Errorf("%s has split sub-folders but none for split %q: %w", dir, split, ErrNotFound)
	}
	f, err := OpenFolder(root, FolderOptions{})
	if err != nil {
		return nil, err
	}
	f.name = filepath.Base(filepath.Clean(dir)) + "-" + split
	return f, nil
}
