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

// Required says whether the real components tests use (the kernel, the
// apiserver, PostgreSQL, Chromium, the corpus, ...) must be here: under CI
// (CI set, as CI systems set it) or with PEREGRINE_REQUIRE_REAL set. It is
// the one rule every helper that finds one missing follows, through
// Unavailable.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("PEREGRINE_REQUIRE_REAL") != ""
}

// Unavailable ends tb for want of a real component: a failure where they
// are required (Required), a skip elsewhere, which make test's summary
// lists.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Required() {
		tb.Fatalf("required here (CI or PEREGRINE_REQUIRE_REAL is set): "+format, args...)
		return
	}
	tb.Skipf(format, args...)
}

// RequireKernel ends tb (Unavailable) without root or BTF
// (/sys/kernel/btf/vmlinux).
func RequireKernel(tb testing.TB) {
	tb.Helper()
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	if os.Geteuid() != 0 || err != nil {
		Unavailable(tb, "the kernel tests need root and /sys/kernel/btf/vmlinux (euid %d, btf: %v)", os.Geteuid(), err)
	}
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
// tests; where it is missing it ends tb (Unavailable).
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	Unavailable(tb, "the web UI tests need chromium (apt-get install chromium)")
	return ""
}
