package engine

import (
	"unicode"
	"unicode/utf8"
)

// replacement is what a field's value shows in place of a character
// that cannot be printed: U+FFFD, as Falco renders it.
const replacement = "\uFFFD"

// appendPrintable appends s with every control character (C0, DEL, C1)
// and every byte that is not UTF-8 replaced by U+FFFD, as Falco 0.44
// renders field values. A value an attacker chose (a file name, an
// argument) must not be able to end an alert's line or drive a terminal
// that reads it; conditions still see the raw value.
func appendPrintable(buf []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) { // printable ASCII, the common case
		return append(buf, s...)
	}
	buf = append(buf, s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unicode.IsControl(r) {
			buf = append(buf, replacement...)
		} else {
			buf = append(buf, s[i:i+n]...)
		}
		i += n
	}
	return buf
}
