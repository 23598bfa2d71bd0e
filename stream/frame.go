package stream

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// compressOver is the payload size from which frames are deflated.
	compressOver = 1 << 10
)

// ErrFrame is a malformed frame: the connection cannot go on.
var ErrFrame = errors.New("stream: malformed frame")

// WriteFrame writes v as a frame of kind.
func WriteFrame(w io.Writer, kind byte, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("stream: encode %c: %w", kind, err)
	}
	if len(payload) > compressOver {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
		fw.Write(payload)
		fw.Close()
		payload, kind = buf.Bytes(), kind|deflated
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

// ReadFrame reads one frame and returns its kind and JSON payload.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	kind, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: %d bytes over the %d limit", ErrFrame, n, MaxFrame)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrFrame, err)
	}
	if kind&deflated == 0 {
		return kind, payload, nil
	}
	out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(payload)), MaxFrame+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: inflate: %w", ErrFrame, err)
	}
	if len(out) > MaxFrame {
		return 0, nil, fmt.Errorf("%w: inflates past the %d limit", ErrFrame, MaxFrame)
	}
	return kind &^ deflated, out, nil
}

// decode reads a frame's payload into v.
func decode(kind byte, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %c message: %w", ErrFrame, kind, err)
	}
	return nil
}
