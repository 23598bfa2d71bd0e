package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer writes one line per alert to w (stdout_output).
type Writer struct {
	name string
	w    io.Writer
}

// NewWriter returns a sink writing to w.
func NewWriter(name string, w io.Writer) *Writer { return &Writer{name: name, w: w} }

// Name implements Sink.
func (s *Writer) Name() string { return s.name }

// Send implements Sink.
func (s *Writer) Send(_ context.Context, line []byte, _ *Alert) error {
	_, err := s.w.Write(line)
	return err
}

// Close implements Sink.
func (s *Writer) Close() error { return nil }

// fileSink appends alerts to a file (file_output). Reopen, called on SIGHUP,
// makes it write to a fresh file after log rotation moved the old one.
type fileSink struct {
	path string
	mu   sync.Mutex
	f    *os.File
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
	old := s.f
	s.f = f
	s.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Send implements Sink.
func (s *fileSink) Send(_ context.Context, line []byte, _ *Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.f.Write(line)
	return err
}

// Close implements Sink.
func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
