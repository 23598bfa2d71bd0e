package bpf

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// record runs the capture while cmd runs and returns what describe makes of
// each record ("" skips it), one line each.
func record(t *testing.T, c *Capture, describe func(*Record) string, cmd *exec.Cmd) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []string
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(r *Record) {
			if line := describe(r); line != "" {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, line)
			}
		})
	}()
	time.Sleep(50 * time.Millisecond)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v %s", cmd.Args, err, out)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return strings.Join(seen, "\n")
}

// TestCaptureExecAndOpen runs cat and finds its exec and its open.
func TestCaptureExecAndOpen(t *testing.T) {
	testenv.RequireKernel(t)
	c, err := Load(Options{Syscalls: []string{"openat", "open", "connect"}, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all := record(t, c, func(r *Record) string {
		return kindName(r.Kind) + " " + String(r.Comm[:]) + " " + String(r.Path[:])
	}, exec.Command("cat", "/etc/hostname"))
	for _, want := range []string{"exec cat /usr/bin/cat", "open cat /etc/hostname"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
	cnt, err := c.Counters()
	if err != nil || cnt.Sent == 0 {
		t.Errorf("counters %+v %v", cnt, err)
	}
}

func kindName(k uint32) string {
	return map[uint32]string{KindExec: "exec", KindFork: "fork", KindExit: "exit", KindOpen: "open", KindConnect: "connect"}[k]
}

// TestCaptureGeneric loads every syscall the probe knows (each attaches, or
// is skipped when this kernel lacks it) and sees a mount cycle and a chmod.
func TestCaptureGeneric(t *testing.T) {
	testenv.RequireKernel(t)
	c, err := Load(Options{Syscalls: Syscalls(), FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names := map[uint32]string{}
	for name, nr := range Generic {
		names[nr] = name
	}
	dir := t.TempDir()
	script := "cd " + dir + " && mkdir m && mount -t tmpfs peregrine-test m && umount m && touch f && chmod 4755 f"
	all := record(t, c, func(r *Record) string {
		if r.Kind != KindGeneric {
			return ""
		}
		return fmt.Sprintf("%s %s %s %s ret=%d", names[r.Syscall], String(r.Comm[:]), String(r.Path[:]),
			String(r.Args[:256]), r.Ret)
	}, exec.Command("sh", "-c", script))
	for _, want := range []string{"mkdir mkdir m  ret=0", "mount mount peregrine-test " + dir + "/m ret=0",
		"umount2 umount " + dir + "/m  ret=0", "fchmodat chmod f  ret=0"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
}
