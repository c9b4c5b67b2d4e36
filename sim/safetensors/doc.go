// Package safetensors reads and writes checkpoints in the safetensors format.
//
// A safetensors file is an 8-byte little-endian unsigned header length N, N bytes of JSON
// header, and a byte buffer. The header maps each tensor name to its dtype, its shape and
// its data_offsets [begin, end) relative to the start of the byte buffer; the optional
// "__metadata__" entry maps strings to strings. Tensors are stored row-major and
// little-endian.
//
// Read and Parse accept the dtypes F32, F16, BF16, F64, I32 and I64 and convert every
// tensor to float32 (F16 and BF16 exactly; F64, I32 and I64 round to nearest). They
// validate the whole file before returning: the header size, the JSON, every shape and
// offset, and every value (NaN and Inf are rejected). Every error names the file and,
// where there is one, the tensor, and wraps one of the package's sentinel errors, so
// callers can test it with errors.Is.
//
// Write produces F32, F16 or BF16 files (rounding to nearest, ties to even), with the
// tensors laid out in the order given, the header's keys sorted, and the header padded
// with spaces to a multiple of 8 bytes; it writes a temporary file and renames it into
// place.
package safetensors
