package output

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// bufferSize is what a buffered sink gathers before it writes: Outputs
// flushes it sooner, whenever its queue is empty.
const bufferSize = 64 << 10

// Writer writes one line per alert to w (stdout_output), buffered: the
// output flushes it whenever it has written what was queued.
type Writer struct {
	name string
	w    *bufio.Writer
}

// NewWriter returns a sink writing to w.
func NewWriter(name string, w io.Writer) *Writer {
	return &Writer{name: name, w: bufio.NewWriterSize(w, bufferSize)}
}

// Name implements Sink.
func (s *Writer) Name() string { return s.name }

// Send implements Sink.
func (s *Writer) Send(_ context.Context, line []byte, _ *Alert) error {
	_, err := s.w.Write(line)
	return err
}

// Flush writes out what Send buffered.
func (s *Writer) Flush() error { return s.w.Flush() }

// Close implements Sink.
func (s *Writer) Close() error { return s.w.Flush() }

// fileSink appends alerts to a file (file_output), buffered like Writer.
// Reopen, called on SIGHUP, makes it write to a fresh file after log
// rotation moved the old one.
type fileSink struct {
	path string
	mu   sync.Mutex
	f    *os.File
	buf  *bufio.Writer
}

// newFile opens path for appending, creating it if needed.
func newFile(path string) (*fileSink, error) {
	s := &fileSink{path: path}
	if err := s.Reopen(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements Sink.
func (s *fileSink) Name() string { return "file" }

// Reopen closes the file and opens path again.
func (s *fileSink) Reopen() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open alert file: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.f
	if s.buf == nil {
		s.buf = bufio.NewWriterSize(f, bufferSize)
	} else {
		_ = s.buf.Flush() // what was buffered goes to the old file, the one it was written for
		s.buf.Reset(f)
	}
	s.f = f
	if old != nil {
		return old.Close()
	}
	return nil
}

// Send implements Sink.
func (s *fileSink) Send(_ context.Context, line []byte, _ *Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.buf.Write(line)
	return err
}

// Flush writes out what Send buffered.
func (s *fileSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Flush()
}

// Close implements Sink.
func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.buf.Flush(), s.f.Close())
}
