package audit

import (
	"encoding/binary"
	"math/bits"
)

// Two thirds of a real audit event are its requestObject and
// responseObject (whole Pods, Deployments, managedFields), and most rules
// never read them: they test the verb and the resource first. So a
// document is skimmed before it is parsed: each event's bodies are cut
// out (replaced by null), the rest is parsed, and a body is parsed only
// when a rule reads it. Skimming checks what it passes over only for
// structure (strings closed, brackets balanced); a body malformed inside
// is found when it is read, and then reads as absent.

// eventBodies are what skimming cut out of one event object.
type eventBodies struct {
	raw       []byte // the whole event object, as it came
	req, resp []byte // requestObject, responseObject; nil when not cut out
}

// skimmed is a document with its events' bodies cut out.
type skimmed struct {
	light []byte        // the document, bodies replaced by null
	top   eventBodies   // the document's, when it is an event object
	items []eventBodies // its items' (an EventList) or its elements' (an array), in order
	last  int           // how much of the document light has covered
}

// skim cuts the bodies out of doc into s (whose buffers it reuses); false
// when doc is not well-formed enough to skim, and should be parsed whole.
func skim(s *skimmed, doc []byte) bool {
	s.light, s.items, s.top, s.last = s.light[:0], s.items[:0], eventBodies{}, 0
	i := skipSpace(doc, 0)
	if i >= len(doc) {
		return false
	}
	var end int
	switch doc[i] {
	case '[':
		end = eachElement(doc, i, func(start int) int { return s.item(doc, start) })
	case '{':
		end = eachMember(doc, i, func(key []byte, start int) int {
			if string(key) == "items" && doc[start] == '[' {
				return eachElement(doc, start, func(start int) int { return s.item(doc, start) })
			}
			return s.body(doc, key, start, &s.top)
		})
		s.top.raw = doc[i:max(end, i)]
	default:
		return false
	}
	if end < 0 || skipSpace(doc, end) != len(doc) {
		return false
	}
	s.light = append(s.light, doc[s.last:]...)
	return true
}

// item cuts the bodies out of the event object at doc[start:] (an
// element that is not an object has none) and returns the index past it.
func (s *skimmed) item(doc []byte, start int) int {
	b := eventBodies{}
	stop := 0
	if doc[start] == '{' {
		stop = eachMember(doc, start, func(key []byte, vs int) int { return s.body(doc, key, vs, &b) })
	} else {
		stop = skipValue(doc, start)
	}
	if stop >= 0 {
		b.raw = doc[start:stop]
	}
	s.items = append(s.items, b)
	return stop
}

// body cuts out the member value at doc[start:] when it is a body: what
// precedes it is copied, and a null in its place. It returns the index
// past the body, or 0 for a member that is not one.
func (s *skimmed) body(doc, key []byte, start int, b *eventBodies) int {
	if doc[start] != '{' || string(key) != "requestObject" && string(key) != "responseObject" {
		return 0
	}
	stop := skipNested(doc, start)
	if stop < 0 {
		return -1
	}
	s.light = append(append(s.light, doc[s.last:start]...), "null"...)
	s.last = stop
	if string(key) == "requestObject" {
		b.req = doc[start:stop]
	} else {
		b.resp = doc[start:stop]
	}
	return stop
}

// eachMember calls visit with the key (as written, without its quotes)
// and the index where the value starts of each member of the object at
// b[i]; visit returns the index past the value, 0 to have it skipped, or
// -1 when it is malformed. eachMember returns the index past the object,
// or -1.
func eachMember(b []byte, i int, visit func(key []byte, start int) int) int {
	if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		k := skipString(b, i)
		if k < 0 {
			return -1
		}
		key := b[i+1 : k-1]
		if i = skipSpace(b, k); i >= len(b) || b[i] != ':' {
			return -1
		}
		start := skipSpace(b, i+1)
		if start >= len(b) {
			return -1
		}
		stop := visit(key, start)
		if stop == 0 {
			stop = skipValue(b, start)
		}
		more, end := next(b, stop, '}')
		if more < 0 {
			return end
		}
		i = more
	}
}

// eachElement calls visit with where each element of the array at b[i]
// starts; visit returns the index past it, or -1. eachElement returns
// the index past the array, or -1.
func eachElement(b []byte, i int, visit func(start int) int) int {
	if i = skipSpace(b, i+1); i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i >= len(b) {
			return -1
		}
		more, end := next(b, visit(i), ']')
		if more < 0 {
			return end
		}
		i = more
	}
}

// next goes on after a member or element that ends at stop: it returns
// where the next one starts (more), or, when the object or array ends
// there, more < 0 and the index past its closer (end, -1 when malformed).
func next(b []byte, stop int, closer byte) (more, end int) {
	if stop < 0 {
		return -1, -1
	}
	i := skipSpace(b, stop)
	switch {
	case i >= len(b):
		return -1, -1
	case b[i] == closer:
		return -1, i + 1
	case b[i] != ',':
		return -1, -1
	}
	return skipSpace(b, i+1), 0
}

// skipValue returns the index past the value at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	}
	j := i
	for j < len(b) && !isDelimiter(b[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// skipString returns the index past the string at b[i] (a quote), or -1.
// It reads eight bytes at a time as a word, looking for the first quote
// or backslash in it with the carry trick ("Bit Twiddling Hacks": a byte
// that is zero borrows when one is subtracted from each byte; the lowest
// flagged byte is exact, those above it may be false).
func skipString(b []byte, i int) int {
	j := i + 1
	for j+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[j:])
		m := zeroBytes(w^(lsb*'"')) | zeroBytes(w^(lsb*'\\'))
		if m == 0 {
			j += 8
			continue
		}
		k := j + bits.TrailingZeros64(m)/8
		if b[k] == '"' {
			return k + 1
		}
		j = k + 2 // past the escaped byte
	}
	for ; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	return -1
}

const lsb = 0x0101010101010101

// zeroBytes flags (bit 7 of) the lowest zero byte of w, and maybe some
// above it.
func zeroBytes(w uint64) uint64 { return (w - lsb) &^ w & (lsb << 7) }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

func isDelimiter(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ':'
}
