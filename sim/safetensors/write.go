package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
)

// outEntry is one tensor's header entry as Write emits it.
type outEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Write writes tensors to a safetensors file at path in the given dtype, "F32", "F16" or
// "BF16" (rounding to nearest, ties to even). The data are laid out in the order given and
// the header's keys are sorted; metadata, when not empty, is stored as "__metadata__".
// Every tensor's Data must hold the product of its Shape elements, all finite and within
// the dtype's range. Write writes a temporary file beside path and renames it into place,
// so a reader never sees a partial file.
func Write(path string, tensors []*Tensor, metadata map[string]string, dtype string) (err error) {
	size := 0
	switch dtype {
	case "F32":
		size = 4
	case "F16", "BF16":
		size = 2
	default:
		return fmt.Errorf("write %s: dtype %q (want F32, F16 or BF16): %w", path, dtype, ErrDtype)
	}
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	var offset int64
	for i, t := range tensors {
		if err := checkWritable(path, i, t, header, dtype); err != nil {
			return err
		}
		shape := append(make([]int, 0, len(t.Shape)), t.Shape...)
		n := int64(len(t.Data)) * int64(size)
		header[t.Name] = outEntry{Dtype: dtype, Shape: shape, DataOffsets: [2]int64{offset, offset + n}}
		offset += n
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fmt.Errorf("write %s: encode header: %w", path, err)
	}
	hb.Truncate(hb.Len() - 1) // the Encoder's newline
	for hb.Len()%8 != 0 {
		hb.WriteByte(' ') // align the data buffer to 8 bytes, as the reference writer does
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hb.Len()))
	w.Write(lenBuf[:])
	w.Write(hb.Bytes())
	chunk := make([]byte, 0, 1<<16)
	for _, t := range tensors {
		for _, v := range t.Data {
			switch dtype {
			case "F32":
				chunk = binary.LittleEndian.AppendUint32(chunk, math.Float32bits(v))
			case "F16":
				chunk = binary.LittleEndian.AppendUint16(chunk, F32ToF16(v))
			case "BF16":
				chunk = binary.LittleEndian.AppendUint16(chunk, F32ToBF16(v))
			}
			if len(chunk) >= cap(chunk)-8 {
				w.Write(chunk)
				chunk = chunk[:0]
			}
		}
	}
	w.Write(chunk)
	if err := w.Flush(); err != nil { // bufio keeps the first write error
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// checkWritable validates the i-th tensor given to Write against the header built so far.
func checkWritable(path string, i int, t *Tensor, header map[string]any, dtype string) error {
	if t == nil {
		return fmt.Errorf("write %s: tensor #%d is nil: %w", path, i, ErrInvalid)
	}
	switch _, dup := header[t.Name]; {
	case t.Name == "":
		return fmt.Errorf("write %s: tensor #%d has an empty name: %w", path, i, ErrInvalid)
	case t.Name == metadataKey:
		return fmt.Errorf("write %s: tensor #%d: the name %q is reserved: %w", path, i, metadataKey, ErrInvalid)
	case dup:
		return fmt.Errorf("write %s: tensor %q: given twice: %w", path, t.Name, ErrInvalid)
	}
	count := uint64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("write %s: tensor %q: shape %s has a negative dimension: %w", path, t.Name, fmtShape(t.Shape), ErrShape)
		}
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 {
			return fmt.Errorf("write %s: tensor %q: shape %s overflows: %w", path, t.Name, fmtShape(t.Shape), ErrShape)
		}
		count = lo
	}
	if count != uint64(len(t.Data)) {
		return fmt.Errorf("write %s: tensor %q: shape %s needs %d values, Data has %d: %w",
			path, t.Name, fmtShape(t.Shape), count, len(t.Data), ErrShape)
	}
	for j, v := range t.Data {
		var err error
		switch {
		case math.IsNaN(float64(v)) || math.IsInf(float64(v), 0):
			err = ErrNonFinite
		case dtype == "F16" && F32ToF16(v)&0x7fff == 0x7c00,
			dtype == "BF16" && F32ToBF16(v)&0x7fff == 0x7f80:
			err = ErrRange
		}
		if err != nil {
			return fmt.Errorf("write %s: tensor %q: element %d %s = %v cannot be stored as %s: %w",
				path, t.Name, j, fmtIndex(t.Shape, j), v, dtype, err)
		}
	}
	return nil
}
