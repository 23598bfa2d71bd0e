// Package testenv holds what tests across the pipeline share about their
// surroundings: whether the kernel tests can run here, and an output buffer
// that the goroutines under test may write while the test reads it.
package testenv

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

// RequireKernel skips tb without root or BTF (/sys/kernel/btf/vmlinux),
// except under CI, where the kernel tests must run: there it fails.
func RequireKernel(tb testing.TB) {
	tb.Helper()
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	if os.Geteuid() == 0 && err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("the kernel tests need root and BTF under CI (euid %d, btf: %v)", os.Geteuid(), err)
	}
	tb.Skip("the kernel tests need root and /sys/kernel/btf/vmlinux")
}

// Buffer is a bytes.Buffer safe for concurrent Write and String.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
