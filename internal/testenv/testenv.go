// Package testenv holds what tests across the pipeline share about their
// surroundings: whether the kernel tests can run here, and an output buffer
// that the goroutines under test may write while the test reads it.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
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

// WaitLine waits up to timeout for a line of b that contains every one of
// subs, and returns it; it fails the test with b's content otherwise.
func WaitLine(tb testing.TB, b *Buffer, timeout time.Duration, subs ...string) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(b.String(), "\n") {
			if ContainsAll(line, subs) {
				return line
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("no line with %q; got:\n%s", subs, b.String())
	return ""
}

// ContainsAll reports whether s contains every one of subs.
func ContainsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Chromium returns Debian's headless-capable browser, for the web UI's
// tests; it skips tb where it is missing, except under CI, where those
// tests must run: there it fails.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("the web UI tests need chromium under CI (apt-get install chromium)")
	}
	tb.Skip("the web UI tests need chromium (apt-get install chromium)")
	return ""
}
