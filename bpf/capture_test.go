package bpf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// needRoot skips without root or BTF, except under CI, where the kernel
// tests must run.
func needRoot(t *testing.T) {
	t.Helper()
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	if os.Geteuid() == 0 && err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("the eBPF tests need root and BTF under CI (euid %d, btf: %v)", os.Geteuid(), err)
	}
	t.Skip("the eBPF tests need root and /sys/kernel/btf/vmlinux")
}

// TestCaptureExecAndOpen runs cat and finds its exec and its open.
func TestCaptureExecAndOpen(t *testing.T) {
	needRoot(t)
	c, err := Load(Options{Syscalls: []string{"openat", "open", "connect"}, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []string
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(r *Record) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, kindName(r.Kind)+" "+String(r.Comm[:])+" "+String(r.Path[:]))
		})
	}()
	time.Sleep(50 * time.Millisecond)
	if out, err := exec.Command("cat", "/etc/hostname").CombinedOutput(); err != nil {
		t.Fatalf("cat: %v %s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	all := strings.Join(seen, "\n")
	mu.Unlock()
	for _, want := range []string{"exec cat /usr/bin/cat", "open cat /etc/hostname"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among %d records", want, len(seen))
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
	needRoot(t)
	c, err := Load(Options{Syscalls: Syscalls(), FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names := map[uint32]string{}
	for name, nr := range Generic {
		names[nr] = name
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []string
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(r *Record) {
			if r.Kind != KindGeneric {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, fmt.Sprintf("%s %s %s %s ret=%d", names[r.Syscall], String(r.Comm[:]),
				String(r.Path[:]), String(r.Args[:256]), r.Ret))
		})
	}()
	time.Sleep(50 * time.Millisecond)
	dir := t.TempDir()
	script := "cd " + dir + " && mkdir m && mount -t tmpfs peregrine-test m && umount m && touch f && chmod 4755 f"
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", script, err, out)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	all := strings.Join(seen, "\n")
	mu.Unlock()
	for _, want := range []string{"mkdir mkdir m  ret=0", "mount mount peregrine-test " + dir + "/m ret=0",
		"umount2 umount " + dir + "/m  ret=0", "fchmodat chmod f  ret=0"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
}
