package bpf

import "unsafe"

// unsafeBytes views C chars as bytes without copying.
func unsafeBytes(b []int8) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// String returns a NUL-terminated C string field as a Go string.
func String(b []int8) string {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	return string(unsafeBytes(b[:n]))
}

// Bytes views C chars as bytes, NULs included; valid while b is.
func Bytes(b []int8) []byte { return unsafeBytes(b) }
