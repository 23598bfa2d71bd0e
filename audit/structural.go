package audit

import "math/bits"

// Finding where a body ends is most of skimming's work: a Pod or a
// Deployment with its managedFields is kilobytes of short strings and
// brackets. skipNested reads 64 bytes at a time as bit masks (one bit a
// byte, for quotes, backslashes, openers and closers), from which it
// knows, without a branch a byte, which quotes are escaped, which bytes
// are inside strings and how deep each bracket is; a block whose closers
// cannot bring the depth to zero is passed in a few instructions. This is
// the first stage of simdjson (Langdale and Lemire, "Parsing gigabytes of
// JSON per second", 2019), done for one value. Where the CPU allows, the
// blocks that cannot close are passed by vector code
// (structural_amd64.s); this file is the same walk in plain Go, which the
// tests hold the vector code to.
//
// Only balance is checked: an opener closed by the other kind of closer
// ({"a":[}]) is passed over like any body malformed inside, and found
// when the body is read.

// masks are one bit a byte of a 64-byte block, bit i for byte i.
type masks struct{ quote, backslash, open, close uint64 }

const (
	evenBits = 0x5555555555555555
	oddBits  = ^uint64(evenBits)
)

// blockMasksGo returns the masks of the 64 bytes b starts with. '{' and
// '[' differ only in bit 5 (0x20), as do '}' and ']'.
func blockMasksGo(b []byte) masks {
	var m masks
	for i, c := range b[:64] {
		bit := uint64(1) << i
		switch c | 0x20 {
		case '"' | 0x20:
			if c == '"' {
				m.quote |= bit
			}
		case '\\' | 0x20:
			if c == '\\' {
				m.backslash |= bit
			}
		case '{':
			m.open |= bit
		case '}':
			m.close |= bit
		}
	}
	return m
}

// scanner is the walk's state between blocks. The vector code reads and
// writes it as three words: keep the layout.
type scanner struct {
	escapeNext uint64 // 1 when the next block's first byte is escaped
	inString   uint64 // all ones when the next block starts inside a string
	depth      int    // brackets open
}

// escaped returns the bytes of the block that a backslash escapes: those
// right after an odd run of backslashes. A run that starts on an even
// bit ends odd-long on an odd bit and the other way round; adding a
// run's first bit to it carries past its end, which is how the ends are
// found for all runs at once.
func (s *scanner) escaped(backslash uint64) uint64 {
	first := s.escapeNext
	backslash &^= first // an escaped backslash escapes nothing
	starts := backslash &^ (backslash << 1)
	evenEnds := (backslash + starts&evenBits) &^ backslash
	oddEnds, carry := bits.Add64(backslash, starts&oddBits, 0)
	oddEnds &^= backslash
	s.escapeNext = carry // an odd-started run reaching bit 63 is odd-long
	return first | evenEnds&oddBits | oddEnds&evenBits
}

// strings returns the bytes of the block inside strings (an opening
// quote is, its closing one is not), given its unescaped quotes: the
// prefix XOR of the quotes (a carry-less multiplication by all ones).
func (s *scanner) strings(quotes uint64) uint64 {
	in := quotes
	for shift := uint(1); shift < 64; shift <<= 1 {
		in ^= in << shift
	}
	in ^= s.inString
	s.inString = uint64(int64(in) >> 63)
	return in
}

// structural returns a block's openers and closers outside strings, and
// moves the escape and string state past it.
func (s *scanner) structural(m masks) (open, close uint64) {
	inside := s.strings(m.quote &^ s.escaped(m.backslash))
	return m.open &^ inside, m.close &^ inside
}

// passGo is pass without vector instructions.
func passGo(b []byte, s *scanner) int {
	n := 0
	for ; len(b) >= 64; b = b[64:] {
		before := *s
		open, close := s.structural(blockMasksGo(b))
		if bits.OnesCount64(close) >= s.depth {
			*s = before
			break
		}
		s.depth += bits.OnesCount64(open) - bits.OnesCount64(close)
		n++
	}
	return n
}

// skipNested returns the index past the object or array at b[i], or -1
// when it does not close before b ends (a string left open, too few
// closers, or a closer too many before it).
func skipNested(b []byte, i int) int {
	var s scanner
	for start := i; start < len(b); start += 64 {
		if start > i {
			// The whole blocks in which the depth cannot reach zero.
			if start += 64 * pass(b[start:], &s); start >= len(b) {
				break
			}
		}
		block := b[start:]
		if len(block) < 64 { // the last bytes, padded with spaces
			var tail [64]byte
			copy(tail[copy(tail[:], block):], spaces[:])
			block = tail[:]
		}
		open, close := s.structural(blockMasks(block))
		if end := closing(open, close, &s.depth); end >= 0 {
			return start + end
		}
	}
	return -1
}

var spaces = [64]byte{' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ',
	' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}

// closing goes through a block's brackets in order and returns the index
// past the one that brings depth to zero, or -1.
func closing(open, close uint64, depth *int) int {
	for all := open | close; all != 0; all &= all - 1 {
		k := bits.TrailingZeros64(all)
		if open&(1<<k) != 0 {
			*depth++
			continue
		}
		if *depth--; *depth <= 0 {
			return k + 1
		}
	}
	return -1
}
