package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrTruncated reports a file shorter than its header says.
	ErrTruncated = errors.New("safetensors: truncated file")
	// ErrHeader reports a header that is too large, is not valid JSON, or lacks a field.
	ErrHeader = errors.New("safetensors: malformed header")
	// ErrDtype reports a dtype this package cannot read or write.
	ErrDtype = errors.New("safetensors: unsupported dtype")
	// ErrShape reports a negative or overflowing shape, a shape that does not match the
	// data, or a tensor whose shape is not the one asked for.
	ErrShape = errors.New("safetensors: bad shape")
	// ErrOffsets reports data offsets out of range, overlapping, or not matching the
	// shape and dtype.
	ErrOffsets = errors.New("safetensors: bad data offsets")
	// ErrNonFinite reports a NaN or infinite value.
	ErrNonFinite = errors.New("safetensors: non-finite value")
	// ErrRange reports a finite value that the target dtype cannot represent (an F64 beyond
	// the float32 range when reading, a float32 beyond the F16 or BF16 range when writing).
	ErrRange = errors.New("safetensors: value out of range")
	// ErrMissing reports a tensor that is not in the file.
	ErrMissing = errors.New("safetensors: missing tensor")
	// ErrInvalid reports a bad argument to Write: a nil tensor, an empty, reserved or
	// duplicate name.
	ErrInvalid = errors.New("safetensors: invalid argument")
)

// MaxHeaderSize is the largest JSON header Parse accepts, in bytes. The safetensors
// reference implementation uses the same limit.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding the string-to-string metadata.
const metadataKey = "__metadata__"

// Tensor is one named tensor, converted to float32 and stored row-major.
type Tensor struct {
	// Name is the tensor's key in the file's header.
	Name string
	// Shape lists the dimensions, outermost first; an empty Shape is a scalar.
	Shape []int
	// Data holds the product of Shape elements in row-major order.
	Data []float32
}

// File is a parsed safetensors file.
type File struct {
	// Path names the file in error messages.
	Path string
	// Metadata is the header's "__metadata__" map; nil when the file has none.
	Metadata map[string]string
	// Tensors maps each tensor's name to the tensor.
	Tensors map[string]*Tensor
	// Order lists the tensor names in the order of their data in the file.
	Order []string
}

// Has reports whether the file holds a tensor with the given name.
func (f *File) Has(name string) bool {
	_, ok := f.Tensors[name]
	return ok
}

// Get returns the named tensor. When shape is given, the tensor must have exactly that
// many dimensions, and each dimension must equal the one given unless the one given is -1
// (any size). A missing tensor wraps ErrMissing and a wrong shape wraps ErrShape; both
// errors name the file and the tensor.
func (f *File) Get(name string, shape ...int) (*Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q: not in the file: %w", f.Path, name, ErrMissing)
	}
	if len(shape) == 0 {
		return t, nil
	}
	match := len(shape) == len(t.Shape)
	for i := 0; match && i < len(shape); i++ {
		match = shape[i] == -1 || shape[i] == t.Shape[i]
	}
	if !match {
		return nil, fmt.Errorf("%s: tensor %q: shape is %s, want %s: %w",
			f.Path, name, fmtShape(t.Shape), fmtShape(shape), ErrShape)
	}
	return t, nil
}

// fmtShape formats a shape as [d0 d1 ...], writing -1 as "*".
func fmtShape(s []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		if d == -1 {
			b.WriteByte('*')
		} else {
			b.WriteString(strconv.Itoa(d))
		}
	}
	b.WriteByte(']')
	return b.String()
}

// dtypeSize gives the element size in bytes of each dtype Parse reads.
var dtypeSize = map[string]int{
	"F32":  4,
	"F16":  2,
	"BF16": 2,
	"F64":  8,
	"I32":  4,
	"I64":  8,
}

// Read reads and parses the safetensors file at path. See Parse.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	return Parse(path, b)
}

// headerEntry is one tensor's header entry as it appears in the JSON. Pointers tell a
// missing field from an empty one; numbers stay raw so that strings, fractions and
// negative values are reported rather than coerced.
type headerEntry struct {
	Dtype       *string            `json:"dtype"`
	Shape       *[]json.RawMessage `json:"shape"`
	DataOffsets *[]json.RawMessage `json:"data_offsets"`
}

// span is one tensor's validated layout.
type span struct {
	name       string
	dtype      string
	shape      []int
	begin, end int
}

// Parse parses the safetensors file held in b. The path is used only in error messages.
// It validates the header size and JSON, every tensor's dtype, shape and data offsets
// (within the buffer, not overlapping, and exactly shape times dtype size long), and every
// value (NaN and Inf are errors naming the tensor and the element index), and converts
// all tensors to float32.
func Parse(path string, b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: %d bytes, shorter than the 8-byte header length: %w", path, len(b), ErrTruncated)
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%s: header length %d exceeds the %d-byte limit: %w", path, n, MaxHeaderSize, ErrHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: header length %d exceeds the %d bytes after the length: %w", path, n, len(b)-8, ErrTruncated)
	}
	header := b[8 : 8+n]
	buf := b[8+n:]

	entries, meta, err := parseHeader(path, header)
	if err != nil {
		return nil, err
	}
	spans := make([]span, 0, len(entries))
	for _, e := range entries {
		s, err := checkEntry(path, e.name, e.raw, len(buf))
		if err != nil {
			return nil, err
		}
		spans = append(spans, s)
	}
	slices.SortFunc(spans, func(x, y span) int {
		if c := x.begin - y.begin; c != 0 {
			return c
		}
		if c := x.end - y.end; c != 0 {
			return c
		}
		return strings.Compare(x.name, y.name)
	})
	for i := 1; i < len(spans); i++ {
		if p, s := spans[i-1], spans[i]; s.begin < p.end {
			return nil, fmt.Errorf("%s: tensor %q: data offsets [%d, %d] overlap tensor %q at [%d, %d]: %w",
				path, s.name, s.begin, s.end, p.name, p.begin, p.end, ErrOffsets)
		}
	}

	f := &File{Path: path, Metadata: meta, Tensors: make(map[string]*Tensor, len(spans)), Order: make([]string, 0, len(spans))}
	for _, s := range spans {
		t := &Tensor{Name: s.name, Shape: s.shape}
		if t.Data, err = convert(path, s, buf[s.begin:s.end]); err != nil {
			return nil, err
		}
		f.Tensors[s.name] = t
		f.Order = append(f.Order, s.name)
	}
	return f, nil
}

// rawEntry is a header key with its undecoded value.
type rawEntry struct {
	name string
	raw  json.RawMessage
}

// parseHeader splits the JSON header into its tensor entries, in header order, and the
// metadata map. It rejects duplicate keys, which encoding/json would silently merge.
func parseHeader(path string, header []byte) ([]rawEntry, map[string]string, error) {
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return nil, nil, fmt.Errorf("%s: header is not a JSON object: %w", path, ErrHeader)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%s: header JSON: %v: %w", path, err, ErrHeader)
	}
	var (
		entries []rawEntry
		meta    map[string]string
		seen    = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: header JSON: %v: %w", path, err, ErrHeader)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("%s: header JSON: key %v is not a string: %w", path, tok, ErrHeader)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("%s: tensor %q: listed twice in the header: %w", path, key, ErrHeader)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %q: header JSON: %v: %w", path, key, err, ErrHeader)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("%s: %s is not a map of strings to strings: %v: %w", path, metadataKey, err, ErrHeader)
			}
			continue
		}
		entries = append(entries, rawEntry{name: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%s: header JSON: %v: %w", path, err, ErrHeader)
	}
	if tok, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%s: header JSON: unexpected %v after the object: %w", path, tok, ErrHeader)
	}
	return entries, meta, nil
}

// checkEntry decodes and validates one tensor's header entry against a data buffer of
// bufLen bytes.
func checkEntry(path, name string, raw json.RawMessage, bufLen int) (span, error) {
	var e headerEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return span{}, fmt.Errorf("%s: tensor %q: header entry: %v: %w", path, name, err, ErrHeader)
	}
	switch {
	case e.Dtype == nil:
		return span{}, fmt.Errorf("%s: tensor %q: header entry has no dtype: %w", path, name, ErrHeader)
	case e.Shape == nil:
		return span{}, fmt.Errorf("%s: tensor %q: header entry has no shape: %w", path, name, ErrHeader)
	case e.DataOffsets == nil:
		return span{}, fmt.Errorf("%s: tensor %q: header entry has no data_offsets: %w", path, name, ErrHeader)
	}
	s := span{name: name, dtype: *e.Dtype}
	size, ok := dtypeSize[s.dtype]
	if !ok {
		return span{}, fmt.Errorf("%s: tensor %q: dtype %q (want F32, F16, BF16, F64, I32 or I64): %w", path, name, s.dtype, ErrDtype)
	}

	s.shape = make([]int, len(*e.Shape))
	count := uint64(1)
	for i, r := range *e.Shape {
		d, err := strconv.ParseInt(string(r), 10, 64)
		if err != nil || d < 0 || d > math.MaxInt {
			return span{}, fmt.Errorf("%s: tensor %q: shape[%d] = %s is not a non-negative integer: %w", path, name, i, r, ErrShape)
		}
		s.shape[i] = int(d)
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return span{}, fmt.Errorf("%s: tensor %q: shape %s overflows: %w", path, name, fmtShape(s.shape[:i+1]), ErrShape)
		}
		count = lo
	}
	hi, nbytes := bits.Mul64(count, uint64(size))
	if hi != 0 || nbytes > math.MaxInt {
		return span{}, fmt.Errorf("%s: tensor %q: shape %s overflows: %w", path, name, fmtShape(s.shape), ErrShape)
	}

	offs := *e.DataOffsets
	if len(offs) != 2 {
		return span{}, fmt.Errorf("%s: tensor %q: data_offsets has %d values, want 2: %w", path, name, len(offs), ErrOffsets)
	}
	var be [2]uint64
	for i, r := range offs {
		v, err := strconv.ParseUint(string(r), 10, 64)
		if err != nil {
			return span{}, fmt.Errorf("%s: tensor %q: data_offsets[%d] = %s is not a non-negative integer: %w", path, name, i, r, ErrOffsets)
		}
		be[i] = v
	}
	if be[0] > be[1] || be[1] > uint64(bufLen) {
		return span{}, fmt.Errorf("%s: tensor %q: data offsets [%d, %d] outside the %d-byte data buffer: %w",
			path, name, be[0], be[1], bufLen, ErrOffsets)
	}
	if be[1]-be[0] != nbytes {
		return span{}, fmt.Errorf("%s: tensor %q: data offsets [%d, %d] span %d bytes, but shape %s of %s needs %d: %w",
			path, name, be[0], be[1], be[1]-be[0], fmtShape(s.shape), s.dtype, nbytes, ErrOffsets)
	}
	s.begin, s.end = int(be[0]), int(be[1])
	return s, nil
}

// convert decodes one tensor's little-endian bytes into float32 values, rejecting NaN,
// infinities and F64 values beyond the float32 range.
func convert(path string, s span, b []byte) ([]float32, error) {
	n := len(b) / dtypeSize[s.dtype]
	out := make([]float32, n)
	switch s.dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = BF16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case "F64":
		for i := range out {
			v := math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			out[i] = float32(v)
			if !math.IsInf(v, 0) && !math.IsNaN(v) && math.IsInf(float64(out[i]), 0) {
				return nil, fmt.Errorf("%s: tensor %q: element %d %s = %g is beyond the float32 range: %w",
					path, s.name, i, fmtIndex(s.shape, i), v, ErrRange)
			}
		}
	case "I32":
		for i := range out {
			out[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case "I64":
		for i := range out {
			out[i] = float32(int64(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s: tensor %q: element %d %s is %v: %w",
				path, s.name, i, fmtIndex(s.shape, i), v, ErrNonFinite)
		}
	}
	return out, nil
}

// fmtIndex formats the row-major flat index i of a tensor of the given shape as its
// coordinates, [i0 i1 ...].
func fmtIndex(shape []int, i int) string {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return fmtShape(idx)
}
