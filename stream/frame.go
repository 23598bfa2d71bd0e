package stream

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Message kinds.
const (
	KindHello    byte = 'h'
	KindAlerts   byte = 'a'
	KindAck      byte = 'k'
	KindAnnounce byte = 'n'
	KindConfirm  byte = 'c'
	KindPods     byte = 'p'
	KindPeers    byte = 'r'

	deflated = 0x80
	// MaxFrame bounds a frame's payload, compressed or not.
	MaxFrame = 8 << 20
	// readAhead bounds the buffer made for a frame before its bytes come.
	readAhead = 64 << 10
	// compressOver is the payload size from which frames are deflated.
	compressOver = 1 << 10
)

// ErrFrame is a malformed frame: the connection cannot go on.
var ErrFrame = errors.New("stream: malformed frame")

// WriteFrame writes v as a frame of kind.
func WriteFrame(w io.Writer, kind byte, v any) error { return new(codec).write(w, kind, v) }

// ReadFrame reads one frame and returns its kind and JSON payload.
func ReadFrame(r io.Reader) (byte, []byte, error) { return new(codec).read(r) }

// codec writes and reads frames, reusing deflate state across them: a
// compressor costs ~1 MiB and a decompressor ~40 KiB, and a replica
// writes a pods frame to every agent at once when they all link after
// its restart (1,000 compressors live together, made afresh, cost a GiB).
type codec struct {
	writers sync.Pool // *flate.Writer
	readers sync.Pool // a flate reader, which is a flate.Resetter
}

// write writes v as a frame of kind.
func (c *codec) write(w io.Writer, kind byte, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("stream: encode %c: %w", kind, err)
	}
	if len(payload) > compressOver {
		payload, kind = c.deflate(payload), kind|deflated
	}
	if len(payload) > MaxFrame {
		return fmt.Errorf("stream: %c frame of %d bytes over the %d limit", kind&^deflated, len(payload), MaxFrame)
	}
	hdr := [5]byte{kind}
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err = w.Write(payload)
	return err
}

func (c *codec) deflate(payload []byte) []byte {
	var buf bytes.Buffer
	fw, _ := c.writers.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&buf, flate.BestSpeed) // a valid level: no error
	} else {
		fw.Reset(&buf)
	}
	fw.Write(payload)
	fw.Close()
	fw.Reset(io.Discard) // let go of buf
	c.writers.Put(fw)
	return buf.Bytes()
}

// read reads one frame and returns its kind and JSON payload.
func (c *codec) read(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	kind, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: %d bytes over the %d limit", ErrFrame, n, MaxFrame)
	}
	payload, err := readN(r, int(n))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrFrame, err)
	}
	if kind&deflated == 0 {
		return kind, payload, nil
	}
	out, err := c.inflate(payload)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: inflate: %w", ErrFrame, err)
	}
	if len(out) > MaxFrame {
		return 0, nil, fmt.Errorf("%w: inflates past the %d limit", ErrFrame, MaxFrame)
	}
	return kind &^ deflated, out, nil
}

// readN reads n bytes, making room as they come rather than what a header
// claims: at most readAhead before the first byte, then twice what has
// arrived. A peer that announces 8 MiB and sends 10 bytes costs 64 KiB; an
// ordinary frame, one allocation of its size.
func readN(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, min(n, readAhead))
	for got := 0; ; {
		if _, err := io.ReadFull(r, b[got:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the header promised more
			}
			return nil, err
		}
		if got = len(b); got == n {
			return b, nil
		}
		next := min(n, 2*got)
		b = slices.Grow(b, next-got)[:next]
	}
}

func (c *codec) inflate(payload []byte) ([]byte, error) {
	src := bytes.NewReader(payload)
	fr, _ := c.readers.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	defer c.readers.Put(fr)
	return io.ReadAll(io.LimitReader(fr, MaxFrame+1))
}

// decode reads a frame's payload into v. Numbers in untyped places (an
// alert's output_fields) stay exact: evt.time in nanoseconds has more
// digits than a float64 keeps.
func decode(kind byte, payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %c message: %w", ErrFrame, kind, err)
	}
	return nil
}
