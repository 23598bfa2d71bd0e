package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/bpf"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

const containerID = "4c2b0c1bdbe07d1bfb0d5b5e6f3c8ae2d2c0e3f0aa1b2c3d4e5f60718293a4b5"

// holdingLoop is the agent's loop over a fake /proc where pid 77 runs in a
// containerd container, with a rule that prints k8s.exec.user.
func holdingLoop(t *testing.T, wait time.Duration) (*loop, *session.Registry, *testenv.Buffer) {
	procfs := t.TempDir()
	os.MkdirAll(filepath.Join(procfs, "77"), 0o755)
	os.WriteFile(filepath.Join(procfs, "77", "cgroup"),
		[]byte("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-"+containerID+".scope\n"), 0o644)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rulesFile, []byte("- rule: Exec in container\n  desc: d\n  condition: evt.type = execve and container.id != host\n"+
		"  output: exec user=%k8s.exec.user\n  priority: NOTICE\n"), 0o644)
	cfg, err := config.Load("", []string{"rules_files=[" + rulesFile + "]", "exec_sessions.wait=" + wait.String()})
	if err != nil {
		t.Fatal(err)
	}
	set, err := inspect.LoadValid(cfg.RulesFiles)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(set, cfg, runtime.Source{})
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.Buffer{}
	outs := output.New(output.FormatOf(cfg), []output.SinkConfig{{Sink: output.NewWriter("test", out), MinPriority: rules.Debug}},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	outsDone := make(chan struct{})
	go func() { outs.Start(ctx); close(outsDone) }()
	reg := session.NewRegistry(time.Minute)
	table := runtime.NewTable(procfs)
	table.Sessions = reg
	l := newLoop(table, eng, outs, Options{Config: cfg, Hostname: "node-1", Sessions: reg, Registry: prometheus.NewRegistry(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	holdCtx, stopHolding := context.WithCancel(ctx)
	holdDone := make(chan struct{})
	go func() { l.releaseHeld(holdCtx); close(holdDone) }()
	t.Cleanup(func() { stopHolding(); <-holdDone; cancel(); <-outsDone })
	return l, reg, out
}

// execRecord is pid 77 exec'ing sh -c id inside the container.
func execRecord() *bpf.Record {
	rec := &bpf.Record{Kind: bpf.KindExec, Pid: 77, Tid: 77, Ppid: 1, NsPid: 12, CgroupId: 9, Syscall: bpf.SysExecve}
	argv := "sh\x00-c\x00id\x00"
	for i := range len(argv) {
		rec.Args[i] = int8(argv[i])
	}
	rec.ArgsLen = uint32(len(argv))
	copy(rec.Comm[:], []int8{'s', 'h'})
	return rec
}

// TestHeldUntilLateSession: the alert of a process whose session is
// announced late (audit only) waits for it and names the user.
func TestHeldUntilLateSession(t *testing.T) {
	l, reg, out := holdingLoop(t, 10*time.Second)
	l.handle(execRecord())
	time.Sleep(100 * time.Millisecond)
	if s := out.String(); s != "" {
		t.Fatalf("alert went out before its session: %s", s)
	}
	reg.Announce(session.Announcement{ID: "a1", AuditID: "a1", User: "alice", ContainerID: containerID,
		Command: []string{"sh", "-c", "id"}, Time: time.Now().Add(-time.Second), Late: true})
	line := testenv.WaitLine(t, out, 5*time.Second, "exec user=alice")
	if !strings.Contains(line, `"k8s.exec.user":"alice"`) {
		t.Errorf("alert %s", line)
	}
}

// TestHeldAtMostWait: without a session, the alert goes out once the
// configured wait is over, without the user: not before, and not much
// after (the release looks every 50ms; 250ms of slack for a busy machine).
func TestHeldAtMostWait(t *testing.T) {
	l, _, out := holdingLoop(t, 300*time.Millisecond)
	start := time.Now()
	l.handle(execRecord())
	testenv.WaitLine(t, out, 5*time.Second, "exec user=<NA>")
	if d := time.Since(start); d < 300*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("released after %v, want between the 300ms wait and 600ms", d)
	}
}
