package output

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// ids names alerts: a random 64-bit prefix per process and a counter,
// shaped as a UUID (version 4 bits set) as falcosidekick names alerts, so
// that an id survives it. Unique without a draw from crypto/rand per
// alert, which would cost more than the rest of publishing.
type ids struct {
	prefix [8]byte
	next   atomic.Uint64
}

func newIDs() *ids {
	g := &ids{}
	_, _ = rand.Read(g.prefix[:]) // never fails (crypto/rand's contract)
	g.prefix[6] = g.prefix[6]&0x0f | 0x40
	return g
}

// id is the next one: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx.
func (g *ids) id() string {
	var b [16]byte
	copy(b[:8], g.prefix[:])
	binary.BigEndian.PutUint64(b[8:], g.next.Add(1))
	b[8] = b[8]&0x3f | 0x80 // the RFC 9562 variant; the counter never reaches those bits
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
