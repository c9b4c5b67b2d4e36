package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// build assembles a safetensors file from a header string and a data buffer.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// f32bytes encodes float32 values little-endian.
func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// sampleTensors returns a few tensors whose values are all exactly representable in F16
// and BF16, so every dtype round-trips them exactly.
func sampleTensors() []*Tensor {
	return []*Tensor{
		{Name: "blocks.0.attn.qkv.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 0.5, 0.25, -0.125, 3}},
		{Name: "cls_token", Shape: []int{1, 1, 4}, Data: []float32{0, 1, -1, 2}},
		{Name: "Alpha", Shape: []int{}, Data: []float32{-0.75}},
		{Name: "empty", Shape: []int{0, 5}, Data: []float32{}},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		t.Run(dtype, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.safetensors")
			in := sampleTensors()
			meta := map[string]string{"format": "pt", "heads": "6"}
			if err := Write(path, in, meta, dtype); err != nil {
				t.Fatal(err)
			}
			f, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			wantOrder := []string{"blocks.0.attn.qkv.weight", "cls_token", "Alpha", "empty"}
			if !slices.Equal(f.Order, wantOrder) {
				t.Errorf("Order = %q, want %q", f.Order, wantOrder)
			}
			if f.Metadata["heads"] != "6" || f.Metadata["format"] != "pt" || len(f.Metadata) != 2 {
				t.Errorf("Metadata = %v, want %v", f.Metadata, meta)
			}
			for _, want := range in {
				got, err := f.Get(want.Name, want.Shape...)
				if err != nil {
					t.Fatal(err)
				}
				// Exact: every sample value is representable in all three dtypes.
				if !slices.Equal(got.Data, want.Data) {
					t.Errorf("%s: Data = %v, want %v", want.Name, got.Data, want.Data)
				}
			}
		})
	}
}

// TestWriteRoundsToDtypePrecision checks that values are stored with exactly the dtype's
// precision: F16 keeps 11 significant bits and BF16 8, rounding ties to even.
func TestWriteRoundsToDtypePrecision(t *testing.T) {
	in := []float32{
		1 + 1.0/1024,       // exact in F16, not in BF16
		1 + 1.0/2048,       // F16 tie between 1 and 1+2^-10: even is 1
		1 + 3.0/2048,       // F16 tie between 1+2^-10 and 1+2^-9: even is 1+2^-9
		1 + 1.0/256,        // BF16 tie between 1 and 1+2^-7: even is 1
		3.0 / (1 << 25),    // F16 subnormal region: 1.5 * 2^-24 ties to 2 * 2^-24
		1.0 / (1 << 25),    // exactly half the smallest F16 subnormal: ties to 0
		65504,              // largest F16
		0.1,                // inexact everywhere but F32
		-1.0 / (1 << 14),   // smallest normal F16, negative
		1e-30,              // F16 underflows to zero, BF16 keeps it roughly
		3.3895314e38 / 1.1, // inside the BF16 range
	}
	want := map[string][]float32{
		"F32": in,
		"F16": {1 + 1.0/1024, 1, 1 + 1.0/512, 1 + 1.0/256, 2.0 / (1 << 24), 0, 65504, 0.099975586, -1.0 / (1 << 14), 0, float32(math.Inf(1))},
	}
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		t.Run(dtype, func(t *testing.T) {
			vals := in
			if dtype == "F16" {
				vals = in[:len(in)-1] // the last value is beyond the F16 range
			}
			path := filepath.Join(t.TempDir(), "p.safetensors")
			if err := Write(path, []*Tensor{{Name: "w", Shape: []int{len(vals)}, Data: vals}}, nil, dtype); err != nil {
				t.Fatal(err)
			}
			f, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			got := f.Tensors["w"].Data
			for i, v := range vals {
				var w float32
				switch dtype {
				case "F32":
					w = v
				case "F16":
					w = want["F16"][i]
				case "BF16":
					w = BF16ToF32(F32ToBF16(v))
				}
				if got[i] != w {
					t.Errorf("element %d: %v stored as %s reads back %v, want %v", i, v, dtype, got[i], w)
				}
			}
			if dtype == "BF16" {
				// Hand-checked BF16 values: 1+2^-10 rounds down to 1, the tie 1+2^-8 to even 1.
				if got[0] != 1 || got[3] != 1 {
					t.Errorf("BF16: got %v and %v, want 1 and 1", got[0], got[3])
				}
			}
		})
	}
}

// TestF16ConversionExhaustive checks every binary16 value: F16ToF32 against the
// definition value = (-1)^s * 2^(e-15) * (1 + m/1024) (subnormals 2^-14 * m/1024), and
// F32ToF16 as its exact inverse.
func TestF16ConversionExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(1)
		case e == 0x1f:
			want = math.NaN()
		case e == 0:
			want = math.Ldexp(float64(m), -24)
		default:
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		got := F16ToF32(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || F32ToF16(got)&0x7c00 != 0x7c00 || F32ToF16(got)&0x3ff == 0 {
				t.Fatalf("F16 %#04x: got %v, want NaN that converts back to NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := F32ToF16(got); back != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestF32ToF16RoundsHalfToEven checks every midpoint between consecutive positive binary16
// values (exact in float32) round to the one with an even significand, and the float32
// values just either side of it round to the nearer one.
func TestF32ToF16RoundsHalfToEven(t *testing.T) {
	for h := uint16(0); h < 0x7bff; h++ {
		lo, hi := F16ToF32(h), F16ToF32(h+1)
		mid := float32((float64(lo) + float64(hi)) / 2) // exact: needs 12 significant bits
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if got := F32ToF16(mid); got != even {
			t.Fatalf("midpoint %v of %#04x and %#04x: got %#04x, want %#04x", mid, h, h+1, got, even)
		}
		if got := F32ToF16(math.Nextafter32(mid, 0)); got != h {
			t.Fatalf("just below the midpoint of %#04x and %#04x: got %#04x", h, h+1, got)
		}
		if got := F32ToF16(math.Nextafter32(mid, float32(math.Inf(1)))); got != h+1 {
			t.Fatalf("just above the midpoint of %#04x and %#04x: got %#04x", h, h+1, got)
		}
		if got := F32ToF16(-mid); got != 0x8000|even {
			t.Fatalf("negative midpoint %v: got %#04x, want %#04x", -mid, got, 0x8000|even)
		}
	}
	if got := F32ToF16(65520); got != 0x7c00 { // the midpoint of 65504 and 2^16 rounds to even: infinity
		t.Errorf("F32ToF16(65520) = %#04x, want infinity 0x7c00", got)
	}
	if got := F32ToF16(math.Nextafter32(65520, 0)); got != 0x7bff {
		t.Errorf("F32ToF16(just below 65520) = %#04x, want 65504 0x7bff", got)
	}
}

// TestBF16ConversionExhaustive checks that every bfloat16 value round-trips and that
// midpoints between consecutive values round to even.
func TestBF16ConversionExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			if back := BF16ToF32(F32ToBF16(f)); !math.IsNaN(float64(back)) {
				t.Fatalf("BF16 NaN %#04x converts back to %v", h, back)
			}
			continue
		}
		if back := F32ToBF16(f); back != uint16(h) {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", h, back)
		}
		if h&0x7fff >= 0x7f80 {
			continue
		}
		mid := math.Float32frombits(uint32(h)<<16 | 0x8000) // halfway to the next value away from zero
		want := uint16(h)
		if h&1 == 1 {
			want++
		}
		if got := F32ToBF16(mid); got != want {
			t.Fatalf("midpoint above %#04x: got %#04x, want %#04x", h, got, want)
		}
	}
}

func TestReadOtherDtypes(t *testing.T) {
	var f64, i32, i64 []byte
	for _, v := range []float64{1.5, -2.25, 1e-3} {
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(v))
	}
	for _, v := range []int32{-7, 0, 1 << 24} {
		i32 = binary.LittleEndian.AppendUint32(i32, uint32(v))
	}
	for _, v := range []int64{-1, 42, 1 << 40} {
		i64 = binary.LittleEndian.AppendUint64(i64, uint64(v))
	}
	data := slices.Concat(f64, i32, i64)
	h := `{"a":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},` +
		`"b":{"dtype":"I32","shape":[3],"data_offsets":[24,36]},` +
		`"c":{"dtype":"I64","shape":[1,3],"data_offsets":[36,60]}}`
	f, err := Parse("x.safetensors", build(h, data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"a": {1.5, -2.25, float32(1e-3)},
		"b": {-7, 0, 1 << 24},
		"c": {-1, 42, 1 << 40},
	}
	for name, w := range want {
		if got := f.Tensors[name].Data; !slices.Equal(got, w) {
			t.Errorf("%s: got %v, want %v", name, got, w)
		}
	}
}

func TestWriteSortsHeaderKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.safetensors")
	if err := Write(path, sampleTensors(), map[string]string{"k": "v"}, "F32"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	dec := json.NewDecoder(bytes.NewReader(b[8 : 8+n]))
	dec.Token()
	var keys []string
	for dec.More() {
		tok, _ := dec.Token()
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if !slices.IsSorted(keys) || len(keys) != 5 {
		t.Errorf("header keys %q are not the 5 keys, sorted", keys)
	}
}

func TestParseErrors(t *testing.T) {
	ok := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	two := f32bytes(1, 2)
	huge := binary.LittleEndian.AppendUint64(nil, 1<<40)
	tests := []struct {
		name  string
		file  []byte
		want  error
		words []string // besides the file name
	}{
		{"short", []byte{1, 2, 3}, ErrTruncated, nil},
		{"header beyond file", build(ok, two)[:30], ErrTruncated, []string{"header length"}},
		{"absurd header", append(huge, "{}"...), ErrHeader, []string{"limit"}},
		{"malformed JSON", build(`{"w":{"dtype":"F32",`, two), ErrHeader, nil},
		{"not an object", build(`[1,2]`, two), ErrHeader, nil},
		{"trailing JSON", build(ok+`{}`, two), ErrHeader, nil},
		{"entry not an object", build(`{"w":5}`, two), ErrHeader, []string{`"w"`}},
		{"duplicate", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, two), ErrHeader, []string{`"w"`}},
		{"no dtype", build(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, two), ErrHeader, []string{`"w"`, "dtype"}},
		{"no shape", build(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, two), ErrHeader, []string{`"w"`, "shape"}},
		{"no offsets", build(`{"w":{"dtype":"F32","shape":[2]}}`, two), ErrHeader, []string{`"w"`, "data_offsets"}},
		{"bad metadata", build(`{"__metadata__":{"a":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, two), ErrHeader, []string{"__metadata__"}},
		{"dtype I8", build(`{"w":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}}`, two), ErrDtype, []string{`"w"`, "I8"}},
		{"negative shape", build(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, two), ErrShape, []string{`"w"`}},
		{"fractional shape", build(`{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, two), ErrShape, []string{`"w"`}},
		{"string shape", build(`{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, two), ErrShape, []string{`"w"`}},
		{"overflowing shape", build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}`, two), ErrShape, []string{`"w"`, "overflows"}},
		{"overflowing bytes", build(`{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}`, two), ErrShape, []string{`"w"`, "overflows"}},
		{"offsets out of range", build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, two), ErrOffsets, []string{`"w"`, "[4, 12]"}},
		{"offsets reversed", build(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, two), ErrOffsets, []string{`"w"`}},
		{"three offsets", build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, two), ErrOffsets, []string{`"w"`}},
		{"negative offset", build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}}`, two), ErrOffsets, []string{`"w"`}},
		{"size mismatch", build(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, two), ErrOffsets, []string{`"w"`, "needs 12"}},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, two), ErrOffsets, []string{`"a"`, `"b"`, "overlap"}},
		{"NaN F32", build(`{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}`, f32bytes(1, float32(math.NaN()))), ErrNonFinite, []string{`"w"`, "element 1 [0 1]"}},
		{"Inf F16", build(`{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}`, []byte{0, 0, 0, 0, 0, 0x7c, 0, 0}), ErrNonFinite, []string{`"w"`, "element 2"}},
		{"NaN BF16", build(`{"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`, []byte{0, 0, 0xc1, 0xff, 0, 0, 0, 0}), ErrNonFinite, []string{`"w"`, "element 1"}},
		{"F64 beyond float32", build(`{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e300))), ErrRange, []string{`"w"`, "element 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("deit_small.safetensors", tt.file)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			for _, w := range append([]string{"deit_small.safetensors"}, tt.words...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.safetensors")
	if _, err := Read(path); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "none.safetensors") {
		t.Errorf("got %v, want a not-exist error naming the file", err)
	}
}

func TestGet(t *testing.T) {
	f, err := Parse("m.safetensors", build(`{"pos_embed":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}`, f32bytes(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Has("pos_embed") || f.Has("cls_token") {
		t.Errorf("Has: got %v %v, want true false", f.Has("pos_embed"), f.Has("cls_token"))
	}
	for _, shape := range [][]int{nil, {1, 2}, {-1, 2}, {-1, -1}} {
		if _, err := f.Get("pos_embed", shape...); err != nil {
			t.Errorf("Get with shape %v: %v", shape, err)
		}
	}
	_, err = f.Get("cls_token", 1, 1, 384)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "m.safetensors") || !strings.Contains(err.Error(), "cls_token") {
		t.Errorf("missing tensor: got %v, want ErrMissing naming file and tensor", err)
	}
	for _, shape := range [][]int{{2, 1}, {1, 2, 1}, {2}, {-1, 3}} {
		_, err = f.Get("pos_embed", shape...)
		if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "pos_embed") || !strings.Contains(err.Error(), "[1 2]") ||
			!strings.Contains(err.Error(), "m.safetensors") {
			t.Errorf("shape %v: got %v, want ErrShape naming file, tensor and got shape [1 2]", shape, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []*Tensor
		dtype   string
		want    error
		words   []string
	}{
		{"dtype", sampleTensors(), "F64", ErrDtype, []string{"F64"}},
		{"nil", []*Tensor{nil}, "F32", ErrInvalid, []string{"#0"}},
		{"empty name", []*Tensor{{Shape: []int{}, Data: []float32{1}}}, "F32", ErrInvalid, []string{"#0"}},
		{"reserved", []*Tensor{{Name: "__metadata__", Shape: []int{}, Data: []float32{1}}}, "F32", ErrInvalid, []string{"__metadata__"}},
		{"duplicate", []*Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{1}}}, "F32", ErrInvalid, []string{`"a"`}},
		{"shape mismatch", []*Tensor{{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}}, "F32", ErrShape, []string{`"a"`}},
		{"negative shape", []*Tensor{{Name: "a", Shape: []int{-1}, Data: []float32{1}}}, "F32", ErrShape, []string{`"a"`}},
		{"NaN", []*Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1, float32(math.NaN())}}}, "BF16", ErrNonFinite, []string{`"a"`, "element 1"}},
		{"F16 overflow", []*Tensor{{Name: "a", Shape: []int{1}, Data: []float32{70000}}}, "F16", ErrRange, []string{`"a"`, "element 0"}},
		{"BF16 overflow", []*Tensor{{Name: "a", Shape: []int{1}, Data: []float32{math.MaxFloat32}}}, "BF16", ErrRange, []string{`"a"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			err := Write(path, tt.tensors, nil, tt.dtype)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			for _, w := range append([]string{"out.safetensors"}, tt.words...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("failed Write left %d files behind", len(ents))
			}
		})
	}
}

// TestWriteReplacesAtomically checks that Write replaces an existing file and leaves no
// temporary file beside it.
func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, sampleTensors(), nil, "F16"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
	if _, err := Read(path); err != nil {
		t.Error(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		path := filepath.Join(f.TempDir(), dtype+".safetensors")
		if err := Write(path, sampleTensors(), map[string]string{"format": "pt"}, dtype); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(build(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`, make([]byte, 16)))
	f.Add(build(`{"a":{"dtype":"I32","shape":[2,1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.safetensors", b)
		if err != nil {
			return
		}
		if len(file.Order) != len(file.Tensors) {
			t.Fatalf("Order has %d names for %d tensors", len(file.Order), len(file.Tensors))
		}
		total := 0
		for _, name := range file.Order {
			tn := file.Tensors[name]
			n := 1
			for _, d := range tn.Shape {
				n *= d
			}
			if n != len(tn.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", name, tn.Shape, len(tn.Data))
			}
			total += len(tn.Data)
		}
		// Every value takes at least 2 bytes of the input, so output is bounded by it.
		if total > len(b)/2 {
			t.Fatalf("%d values from a %d-byte file", total, len(b))
		}
	})
}

func BenchmarkParseF16_4M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "b.safetensors")
	data := make([]float32, 4<<20)
	for i := range data {
		data[i] = float32(i%1000) / 1000
	}
	if err := Write(path, []*Tensor{{Name: "w", Shape: []int{len(data)}, Data: data}}, nil, "F16"); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(path, raw); err != nil {
			b.Fatal(err)
		}
	}
}
