package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes builds an IDX file of unsigned bytes with the given magic number, dimensions
// and payload.
func idxBytes(magic uint32, dims []int, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, payload...)
}

// gz compresses b with gzip.
func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// synthIDX returns n images of rows x cols with pixel (i, j) = (i*31 + j*7) % 256 and
// labels i % 10, as IDX image and label files.
func synthIDX(n, rows, cols int) (images, labels []byte) {
	pix := make([]byte, n*rows*cols)
	for i := range n {
		for j := range rows * cols {
			pix[i*rows*cols+j] = byte((i*31 + j*7) % 256)
		}
	}
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 10)
	}
	return idxBytes(idxImagesMagic, []int{n, rows, cols}, pix), idxBytes(idxLabelsMagic, []int{n}, lab)
}

// writeIDXDir writes a split's synthetic IDX files into dir under the standard names,
// gzipped (with ".gz") or not.
func writeIDXDir(t *testing.T, dir, split string, n, rows, cols int, gzipped bool) {
	t.Helper()
	images, labels := synthIDX(n, rows, cols)
	names := idxNames[split]
	suffix := ""
	if gzipped {
		images, labels, suffix = gz(images), gz(labels), ".gz"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, b := range [][]byte{images, labels} {
		if err := os.WriteFile(filepath.Join(dir, names[i]+suffix), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkSynth checks that d holds synthIDX's images and labels.
func checkSynth(t *testing.T, d Dataset, n, rows, cols int) {
	t.Helper()
	if d.Len() != n {
		t.Fatalf("Len = %d, want %d", d.Len(), n)
	}
	if c, h, w := d.Shape(); c != 1 || h != rows || w != cols {
		t.Fatalf("Shape = %d, %d, %d, want 1, %d, %d", c, h, w, rows, cols)
	}
	if want := min(n, 10); d.NumClasses() != want {
		t.Errorf("NumClasses = %d, want %d", d.NumClasses(), want)
	}
	dst := make([]float32, rows*cols)
	for i := range n {
		label, err := d.Image(i, dst)
		if err != nil {
			t.Fatal(err)
		}
		if label != i%10 {
			t.Errorf("image %d: label %d, want %d", i, label, i%10)
		}
		for j, v := range dst {
			// Exact: both sides compute float32(byte) / 255.
			if want := float32((i*31+j*7)%256) / 255; v != want {
				t.Fatalf("image %d pixel %d = %v, want %v", i, j, v, want)
			}
		}
	}
}

func TestIDXRoundTrip(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		dir := t.TempDir()
		writeIDXDir(t, dir, "train", 23, 5, 4, gzipped)
		writeIDXDir(t, dir, "test", 7, 5, 4, gzipped)
		for split, n := range map[string]int{"train": 23, "test": 7} {
			d, err := OpenIDXDir(dir, split)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Base(dir) + "-" + split; d.Name() != want {
				t.Errorf("Name = %q, want %q", d.Name(), want)
			}
			checkSynth(t, d, n, 5, 4)
		}
	}
}

// TestIDXDetectsGzipByContent: a gzipped file without ".gz" and a plain file with ".gz"
// both read, since compression is told by the magic bytes.
func TestIDXDetectsGzipByContent(t *testing.T) {
	dir := t.TempDir()
	images, labels := synthIDX(12, 3, 3)
	ip, lp := filepath.Join(dir, "imgs"), filepath.Join(dir, "labels.gz")
	os.WriteFile(ip, gz(images), 0o644)
	os.WriteFile(lp, labels, 0o644)
	d, err := OpenIDX(ip, lp)
	if err != nil {
		t.Fatal(err)
	}
	checkSynth(t, d, 12, 3, 3)
	if d.Label(11) != 1 {
		t.Errorf("Label(11) = %d, want 1", d.Label(11))
	}
}

func TestIDXErrors(t *testing.T) {
	images, labels := synthIDX(4, 3, 2)
	gzImages := gz(images)
	bigImages, bigLabels := synthIDX(200, 10, 10)
	gzBig := gz(bigImages)
	corrupt := bytes.Clone(gzImages)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC-32 in the gzip trailer
	tests := []struct {
		name           string
		images, labels []byte
		want           error
		words          []string
	}{
		{"images header short", images[:10], labels, ErrTruncated, []string{"set images"}},
		{"labels empty", images, nil, ErrTruncated, []string{"set labels"}},
		{"images magic", idxBytes(0x00000801, []int{4, 3, 2}, images[16:]), labels, ErrFormat, []string{"set images", "magic"}},
		{"labels magic", images, idxBytes(0x00000803, []int{4}, labels[8:]), ErrFormat, []string{"set labels", "magic"}},
		{"float images", idxBytes(0x00000d03, []int{4, 3, 2}, images[16:]), labels, ErrFormat, []string{"set images"}},
		{"zero rows", idxBytes(idxImagesMagic, []int{4, 0, 2}, nil), labels, ErrFormat, []string{"set images", "dimension 1"}},
		{"zero images", idxBytes(idxImagesMagic, []int{0, 3, 2}, nil), idxBytes(idxLabelsMagic, []int{0}, nil), ErrEmpty, []string{"set images"}},
		{"huge record", idxBytes(idxImagesMagic, []int{1, 65536, 65536}, nil), labels, ErrFormat, []string{"set images"}},
		{"huge count", idxBytes(idxImagesMagic, []int{1 << 30, 1 << 14, 1 << 14}, nil), labels, ErrFormat, []string{"set images"}},
		{"images truncated", images[:16+6*2+3], labels, ErrTruncated, []string{"set images", "record 2 of 4"}},
		{"labels truncated", images, labels[:8+3], ErrTruncated, []string{"set labels", "record 3 of 4"}},
		{"gzip truncated", gzBig[:len(gzBig)/2], bigLabels, ErrTruncated, []string{"set images", "record"}},
		{"gzip checksum", corrupt, labels, ErrFormat, []string{"set images", "gzip"}},
		{"gzip header", []byte{0x1f, 0x8b, 0, 0, 0, 0}, labels, ErrFormat, []string{"set images", "gzip"}},
		{"gzip trailing", gz(append(bytes.Clone(images), 9)), labels, ErrFormat, []string{"set images", "after the last"}},
		{"trailing", append(bytes.Clone(images), 1, 2), labels, ErrFormat, []string{"set images", "after the last"}},
		{"count mismatch", images, idxBytes(idxLabelsMagic, []int{3}, labels[8:11]), ErrMismatch, []string{"set images", "set labels", "4 images", "3 labels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIDX("set", tt.images, tt.labels)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			for _, w := range tt.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestOpenIDXNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	images, labels := synthIDX(4, 3, 2)
	ip, lp := filepath.Join(dir, "imgs.idx"), filepath.Join(dir, "labs.idx")
	os.WriteFile(ip, images[:20], 0o644)
	os.WriteFile(lp, labels, 0o644)
	if _, err := OpenIDX(ip, lp); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), ip) || !strings.Contains(err.Error(), "record 0") {
		t.Errorf("got %v, want ErrTruncated naming %s and record 0", err, ip)
	}
	if _, err := OpenIDX(filepath.Join(dir, "none"), lp); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing file: got %v", err)
	}
	if _, err := OpenIDXDir(dir, "train"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Errorf("OpenIDXDir without files: got %v, want ErrNotFound naming the file", err)
	}
	if _, err := OpenIDXDir(dir, "validation"); !errors.Is(err, ErrSpec) {
		t.Errorf("bad split: got %v, want ErrSpec", err)
	}
}

func TestIDXImageArgs(t *testing.T) {
	images, labels := synthIDX(4, 3, 2)
	d, err := ParseIDX("set", images, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ i, n int }{{-1, 6}, {4, 6}, {0, 5}, {0, 7}} {
		if _, err := d.Image(c.i, make([]float32, c.n)); !errors.Is(err, ErrIndex) || !strings.Contains(err.Error(), "set") {
			t.Errorf("Image(%d, [%d]): got %v, want ErrIndex naming the set", c.i, c.n, err)
		}
	}
}

func FuzzParseIDX(f *testing.F) {
	images, labels := synthIDX(5, 4, 3)
	f.Add(images, labels)
	f.Add(gz(images), gz(labels))
	f.Add(images[:20], labels)
	f.Add(idxBytes(idxImagesMagic, []int{1, 1, 1}, []byte{7}), idxBytes(idxLabelsMagic, []int{1}, []byte{255}))
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		d, err := ParseIDX("fuzz", images, labels)
		if err != nil {
			return
		}
		c, h, w := d.Shape()
		if c != 1 || d.Len() <= 0 || d.NumClasses() <= 0 || d.NumClasses() > 256 {
			t.Fatalf("shape %d,%d,%d, %d images, %d classes", c, h, w, d.Len(), d.NumClasses())
		}
		dst := make([]float32, h*w)
		for _, i := range []int{0, d.Len() - 1} {
			label, err := d.Image(i, dst)
			if err != nil || label < 0 || label >= d.NumClasses() {
				t.Fatalf("Image(%d) = %d, %v", i, label, err)
			}
		}
	})
}
