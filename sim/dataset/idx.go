package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
)

// IDX magic numbers: two zero bytes, the element type (0x08, unsigned byte) and the
// number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// IDX is a data set read from an idx3-ubyte image file and an idx1-ubyte label file, held
// in memory. Its images have one channel.
type IDX struct {
	name          string
	n, rows, cols int
	pixels        []byte // n * rows * cols, row-major
	labels        []byte
	classes       int
}

// Name implements Dataset.
func (d *IDX) Name() string { return d.name }

// Len implements Dataset.
func (d *IDX) Len() int { return d.n }

// Shape implements Dataset: one channel of rows x cols pixels.
func (d *IDX) Shape() (c, h, w int) { return 1, d.rows, d.cols }

// NumClasses implements Dataset: one more than the largest label.
func (d *IDX) NumClasses() int { return d.classes }

// Label returns image i's label without decoding the image. It panics if i is out of
// range.
func (d *IDX) Label(i int) int { return int(d.labels[i]) }

// Image implements Dataset.
func (d *IDX) Image(i int, dst []float32) (int, error) {
	if err := checkImageArgs(d, i, dst); err != nil {
		return 0, err
	}
	size := d.rows * d.cols
	for j, p := range d.pixels[i*size : (i+1)*size] {
		dst[j] = byteToUnit[p]
	}
	return int(d.labels[i]), nil
}

// byteToUnit maps a pixel byte to its value in [0, 1]: float32(b) / 255, as torchvision's
// ToTensor computes it.
var byteToUnit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// OpenIDX reads an idx3-ubyte image file and an idx1-ubyte label file, each gzipped or not
// (told by its first bytes, not its name). Errors name the file and, for a truncated
// file, the first incomplete record.
func OpenIDX(imagesPath, labelsPath string) (*IDX, error) {
	images, err := os.ReadFile(imagesPath)
	if err != nil {
		return nil, fmt.Errorf("read IDX images: %w", err)
	}
	labels, err := os.ReadFile(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("read IDX labels: %w", err)
	}
	d, err := parseIDX(imagesPath, labelsPath, images, labels)
	if err != nil {
		return nil, err
	}
	d.name = filepath.Base(imagesPath)
	return d, nil
}

// ParseIDX parses IDX image and label files held in memory, each gzipped or not. The name
// names the data set, and stands for the files in errors ("NAME images", "NAME labels").
func ParseIDX(name string, images, labels []byte) (*IDX, error) {
	d, err := parseIDX(name+" images", name+" labels", images, labels)
	if err != nil {
		return nil, err
	}
	d.name = name
	return d, nil
}

func parseIDX(imagesFile, labelsFile string, images, labels []byte) (*IDX, error) {
	dims, pix, err := readIDX(imagesFile, images, idxImagesMagic, 3)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := readIDX(labelsFile, labels, idxLabelsMagic, 1)
	if err != nil {
		return nil, err
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("%s holds %d images but %s holds %d labels: %w",
			imagesFile, dims[0], labelsFile, ldims[0], ErrMismatch)
	}
	d := &IDX{n: dims[0], rows: dims[1], cols: dims[2], pixels: pix, labels: lab}
	for _, l := range lab {
		d.classes = max(d.classes, int(l)+1)
	}
	return d, nil
}

// maxIDXRecord bounds one record (image) of an IDX file, in bytes, so that a header
// cannot ask for absurd sizes.
const maxIDXRecord = 1 << 28

// readIDX parses one IDX file of unsigned bytes with the given magic number and number of
// dimensions, decompressing it first if it is gzipped, and returns its dimensions and
// payload. The first dimension counts records; the others give a record's shape.
func readIDX(file string, raw []byte, magic uint32, ndim int) ([]int, []byte, error) {
	gz := len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b
	var r io.Reader = bytes.NewReader(raw)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: gzip: %v: %w", file, err, ErrFormat)
		}
		r = zr
	}
	hlen := 4 + 4*ndim
	header := make([]byte, hlen)
	if n, err := io.ReadFull(r, header); err != nil {
		if gz && !isEOF(err) {
			return nil, nil, fmt.Errorf("%s: gzip: %v: %w", file, err, ErrFormat)
		}
		return nil, nil, fmt.Errorf("%s: %d bytes, shorter than the %d-byte IDX header: %w", file, n, hlen, ErrTruncated)
	}
	if got := binary.BigEndian.Uint32(header); got != magic {
		return nil, nil, fmt.Errorf("%s: magic number %#08x, want %#08x (unsigned bytes, %d dimensions): %w",
			file, got, magic, ndim, ErrFormat)
	}
	dims := make([]int, ndim)
	record := uint64(1)
	for i := range dims {
		v := binary.BigEndian.Uint32(header[4+4*i:])
		dims[i] = int(v)
		if i == 0 {
			continue
		}
		if v == 0 {
			return nil, nil, fmt.Errorf("%s: dimension %d is 0: %w", file, i, ErrFormat)
		}
		record *= uint64(v)
		if record > maxIDXRecord {
			return nil, nil, fmt.Errorf("%s: records of %v exceed %d bytes: %w", file, dims[1:i+1], maxIDXRecord, ErrFormat)
		}
	}
	if dims[0] == 0 {
		return nil, nil, fmt.Errorf("%s: holds 0 records: %w", file, ErrEmpty)
	}
	hi, need := bits.Mul64(uint64(dims[0]), record)
	if hi != 0 || need > 1<<40 {
		return nil, nil, fmt.Errorf("%s: %d records of %d bytes is absurd: %w", file, dims[0], record, ErrFormat)
	}

	var payload []byte
	if gz {
		var buf bytes.Buffer
		// Grow with the data actually decompressed, not with what the header claims.
		buf.Grow(int(min(need, 8*uint64(len(raw))+1024)))
		n, err := io.CopyN(&buf, r, int64(need))
		if err != nil && !isEOF(err) {
			return nil, nil, fmt.Errorf("%s: gzip: %v: %w", file, err, ErrFormat)
		}
		if uint64(n) == need {
			var one [1]byte
			switch m, err := r.Read(one[:]); {
			case m > 0:
				return nil, nil, fmt.Errorf("%s: bytes after the last of %d records: %w", file, dims[0], ErrFormat)
			case err != io.EOF: // the gzip reader checks the checksum at the end of the stream
				return nil, nil, fmt.Errorf("%s: gzip: %v: %w", file, err, ErrFormat)
			}
		}
		payload = buf.Bytes()
	} else {
		payload = raw[hlen:]
		if uint64(len(payload)) > need {
			return nil, nil, fmt.Errorf("%s: %d bytes after the last of %d records: %w",
				file, uint64(len(payload))-need, dims[0], ErrFormat)
		}
	}
	if uint64(len(payload)) < need {
		return nil, nil, fmt.Errorf("%s: truncated in record %d of %d (%d of %d data bytes): %w",
			file, uint64(len(payload))/record, dims[0], len(payload), need, ErrTruncated)
	}
	return dims, payload, nil
}

// isEOF reports whether err marks the input ending, early or not.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// idxNames gives the standard IDX file names of each split, without the optional ".gz".
var idxNames = map[string][2]string{
	"train": {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
	"test":  {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
}

// idxFiles finds a split's image and label files in dir, each named as in idxNames with
// or without ".gz" (the uncompressed file wins when both exist).
func idxFiles(dir, split string) (images, labels string, err error) {
	names, ok := idxNames[split]
	if !ok {
		return "", "", fmt.Errorf("split %q (want train or test): %w", split, ErrSpec)
	}
	var found [2]string
	for i, name := range names {
		for _, cand := range []string{name, name + ".gz"} {
			p := filepath.Join(dir, cand)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				found[i] = p
				break
			}
		}
		if found[i] == "" {
			return "", "", fmt.Errorf("%s: no %s[.gz]: %w", dir, name, ErrNotFound)
		}
	}
	return found[0], found[1], nil
}

// OpenIDXDir opens the split, "train" or "test", of the IDX data set in dir, which holds
// the standard file names: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally gzipped with a ".gz"
// suffix. The data set is named after the folder and the split, as in "mnist-test".
func OpenIDXDir(dir, split string) (*IDX, error) {
	images, labels, err := idxFiles(dir, split)
	if err != nil {
		return nil, err
	}
	d, err := OpenIDX(images, labels)
	if err != nil {
		return nil, err
	}
	d.name = filepath.Base(filepath.Clean(dir)) + "-" + split
	return d, nil
}
