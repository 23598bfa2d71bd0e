package bpf

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// record runs the capture while cmd runs and returns what describe makes of
// each record ("" skips it), one line each, and what cmd printed.
func record(t *testing.T, c *Capture, describe func(*Record) string, cmd *exec.Cmd) (lines, output string) {
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
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v %s", cmd.Args, err, out)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return strings.Join(seen, "\n"), string(out)
}

// TestCaptureExecAndOpen runs cat and finds its exec and its open.
func TestCaptureExecAndOpen(t *testing.T) {
	testenv.RequireKernel(t)
	c, err := Load(Options{Syscalls: []string{"openat", "open", "connect"}, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all, _ := record(t, c, func(r *Record) string {
		return kindName(r.Kind) + " " + String(r.Path[:])
	}, exec.Command("cat", "/etc/hostname"))
	for _, want := range []string{"exec /usr/bin/cat", "open /etc/hostname"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
	cnt, err := c.Counters()
	if err != nil || cnt.Sent == 0 {
		t.Errorf("counters %+v %v", cnt, err)
	}
}

// syscallNames names Record.Syscall numbers.
func syscallNames() map[uint32]string {
	names := map[uint32]string{}
	for name, nr := range Numbers {
		names[nr] = name
	}
	return names
}

func kindName(k uint32) string {
	return map[uint32]string{KindExec: "exec", KindFork: "fork", KindExit: "exit", KindOpen: "open", KindSyscall: "syscall"}[k]
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
	names := syscallNames()
	dir := t.TempDir()
	script := "cd " + dir + " && mkdir m && mount -t tmpfs peregrine-test m && umount m && touch f && chmod 4755 f"
	all, _ := record(t, c, func(r *Record) string {
		if r.Kind != KindSyscall {
			return ""
		}
		return fmt.Sprintf("%s %s %s %s ret=%d", names[r.Syscall], String(r.Path[:]),
			String(r.Args[:256]), String(r.Args[256:]), r.Ret)
	}, exec.Command("sh", "-c", script))
	for _, want := range []string{"mkdir m   ret=0", "mount peregrine-test " + dir + "/m tmpfs ret=0",
		"umount2 " + dir + "/m   ret=0", "fchmodat f   ret=0", "chdir " + dir + "   ret=0"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
}

// TestCaptureSockets runs testdata/netcalls and checks each socket call's
// record: both ends, from the caller's sockaddr or from the kernel socket,
// and that an execveat is told from an execve.
func TestCaptureSockets(t *testing.T) {
	testenv.RequireKernel(t)
	bin := filepath.Join(t.TempDir(), "netcalls")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/netcalls").CombinedOutput(); err != nil {
		t.Fatalf("build netcalls: %v %s", err, out)
	}
	c, err := Load(Options{Syscalls: []string{"socket", "bind", "listen", "connect", "accept4", "dup2", "sendto"},
		Execveat: true, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names := syscallNames()
	cmd := exec.Command(bin)
	all, ports := record(t, c, func(r *Record) string {
		switch {
		case r.Kind == KindExec && String(r.Path[:]) == "/bin/true":
			return fmt.Sprintf("%d exec syscall=%d", r.Pid, r.Syscall)
		case r.Kind != KindSyscall || names[r.Syscall] == "chdir" || names[r.Syscall] == "fchdir":
			return ""
		}
		lport := strconv.Itoa(int(r.Lport))
		if names[r.Syscall] == "sendto" {
			lport = "*" // the kernel binds the socket to a port of its choosing
		}
		return fmt.Sprintf("%d %s fd=%d family=%d proto=%d state=%d local=%v:%s remote=%v:%d ret=%d", r.Pid, names[r.Syscall],
			r.Fd, r.Family, r.L4proto, r.SockState, netip.AddrFrom4([4]byte(r.Laddr[:4])), lport,
			netip.AddrFrom4([4]byte(r.Addr[:4])), r.Port, r.Ret)
	}, cmd)
	var server, client, ln, cl, acc, udp int
	if _, err := fmt.Sscan(ports, &server, &client, &ln, &cl, &acc, &udp); err != nil {
		t.Fatalf("netcalls printed %q: %v", ports, err)
	}
	var got []string
	for _, line := range strings.Split(all, "\n") {
		if rest, ok := strings.CutPrefix(line, strconv.Itoa(cmd.Process.Pid)+" "); ok {
			got = append(got, rest)
		}
	}
	tcp := "family=2 proto=6"
	want := []string{
		fmt.Sprintf("socket fd=%d %s state=1 local=0.0.0.0:0 remote=0.0.0.0:0 ret=%[1]d", ln, tcp),
		fmt.Sprintf("bind fd=%d %s state=1 local=127.0.0.1:%d remote=0.0.0.0:0 ret=0", ln, tcp, server),
		fmt.Sprintf("listen fd=%d %s state=1 local=127.0.0.1:%d remote=0.0.0.0:0 ret=0", ln, tcp, server),
		fmt.Sprintf("socket fd=%d %s state=1 local=0.0.0.0:0 remote=0.0.0.0:0 ret=%[1]d", cl, tcp),
		fmt.Sprintf("connect fd=%d %s state=3 local=127.0.0.1:%d remote=127.0.0.1:%d ret=0", cl, tcp, client, server),
		fmt.Sprintf("accept4 fd=%d %s state=3 local=127.0.0.1:%d remote=127.0.0.1:%d ret=%[1]d", acc, tcp, server, client),
		fmt.Sprintf("dup2 fd=100 %s state=3 local=127.0.0.1:%d remote=127.0.0.1:%d ret=100", tcp, server, client),
		fmt.Sprintf("socket fd=%d family=2 proto=17 state=1 local=0.0.0.0:0 remote=0.0.0.0:0 ret=%[1]d", udp),
		fmt.Sprintf("sendto fd=%d family=2 proto=17 state=1 local=0.0.0.0:* remote=127.0.0.2:9 ret=1", udp),
		fmt.Sprintf("exec syscall=%d", SysExecveat),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
