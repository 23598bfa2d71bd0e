package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/runtime"
)

// startAgent runs the agent with the given rules files until the test ends.
func startAgent(t *testing.T, rulesFiles ...string) *testenv.Buffer {
	t.Helper()
	testenv.RequireKernel(t)
	over := []string{"rule_matching=all"}
	if len(rulesFiles) > 0 {
		over = append(over, "rules_files=["+strings.Join(rulesFiles, ",")+"]")
	}
	cfg, err := config.Load("", over)
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.Buffer{}
	stop := running(t, Options{Config: cfg, Hostname: "node", Stdout: out})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	return out
}

// running builds an agent from o (quiet defaults for what o leaves unset)
// and runs it; once running returns, the probes capture. stop ends it and
// says how Run returned.
func running(t testing.TB, o Options) (stop func() error) {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	a, err := New(o)
	if err != nil {
		t.Fatalf("agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return sync.OnceValue(func() error {
		cancel()
		return <-done
	})
}

func waitAlert(t testing.TB, out *testenv.Buffer, substrings ...string) string {
	t.Helper()
	return testenv.WaitLine(t, out, 5*time.Second, substrings...)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Logf("%s %v: %v %s", name, args, err, out)
	}
}

// TestReadSensitiveFileUntrusted: cat /etc/shadow fires Falco's upstream
// "Read sensitive file untrusted" from the live kernel.
func TestReadSensitiveFileUntrusted(t *testing.T) {
	out := startAgent(t, filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml"))
	run(t, "cat", "/etc/shadow")
	line := waitAlert(t, out, `"rule":"Read sensitive file untrusted"`, `file=/etc/shadow`, `process=cat`)
	if !strings.Contains(line, `"source":"syscall"`) || !strings.Contains(line, `"fd.name":"/etc/shadow"`) {
		t.Errorf("alert %s", line)
	}
}

// TestIncubatingFileRules: chmod u+s, removing a shell history file and an
// exec with GLIBC_TUNABLES set fire Falco's upstream incubating rules, which
// read evt.arg.* of generic syscalls and proc.env.
func TestIncubatingFileRules(t *testing.T) {
	dir := filepath.Join(conformance.Dir(t), "rules")
	out := startAgent(t, filepath.Join(dir, "falco_rules.yaml"), filepath.Join(dir, "falco-incubating_rules.yaml"))
	tmp := t.TempDir()
	tool, history := filepath.Join(tmp, "tool"), filepath.Join(tmp, ".bash_history")
	run(t, "sh", "-c", "touch "+tool+" "+history+" && chmod u+s "+tool+" && rm "+history)
	line := waitAlert(t, out, `"rule":"Set Setuid or Setgid bit"`, "filename="+tool, "process=chmod")
	if !strings.Contains(line, `S_ISUID`) {
		t.Errorf("alert without S_ISUID in the mode: %s", line)
	}
	waitAlert(t, out, `"rule":"Delete or rename shell history"`, "name="+history, "evt_type=unlinkat", "process=rm")
	zsh := filepath.Join(tmp, ".zsh_history")
	run(t, "sh", "-c", ": > "+zsh)
	waitAlert(t, out, `"rule":"Delete or rename shell history"`, "file="+zsh, "evt_type=openat", "process=sh")
	// proc.env: the probe reads the environment at exec because a rule uses it.
	run(t, "env", "GLIBC_TUNABLES=glibc.malloc.check=0", "true")
	waitAlert(t, out, `"rule":"Potential Local Privilege Escalation via Environment Variables Misuse"`,
		"GLIBC_TUNABLES=glibc.malloc.check=0", "process=true")
}

// TestDefaultKernelRules: our own rules fire on a suspicious connect and a
// write below /usr/bin, and stay quiet on ordinary activity.
func TestDefaultKernelRules(t *testing.T) {
	testenv.RequireKernel(t)
	cfg, err := config.Load("", []string{"rule_matching=all"})
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.Buffer{}
	stop := running(t, Options{Config: cfg, Hostname: "node", Stdout: out})
	defer stop() //nolint:errcheck // stopped below, checked there
	run(t, "sh", "-c", "ls /tmp >/dev/null; cat /etc/hostname >/dev/null; true")
	// From another process: the agent never captures its own (the test's) syscalls.
	run(t, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.2/4444")
	waitAlert(t, out, `"rule":"Outbound connection to a suspicious port"`, `port=4444`)
	target := "/usr/bin/peregrine-test-" + time.Now().Format("150405.000000")
	run(t, "sh", "-c", "echo x > "+target)
	defer os.Remove(target)
	waitAlert(t, out, `"rule":"Write below a binary directory"`, "file="+target)
	// Alerts held for an exec session would come up to exec_sessions.wait
	// later: stopping releases them all, and only then is it quiet.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.Contains(line, "Outbound connection to a suspicious port") && !strings.Contains(line, "Write below a binary directory") {
			t.Errorf("unexpected alert: %s", line)
		}
	}
}

// TestRecordReplay: what the agent records replays to the alert it raised
// live.
func TestRecordReplay(t *testing.T) {
	testenv.RequireKernel(t)
	rulesFile := filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml")
	cfg, err := config.Load("", []string{"rules_files=[" + rulesFile + "]"})
	if err != nil {
		t.Fatal(err)
	}
	var capture testenv.Buffer
	live := &testenv.Buffer{}
	stop := running(t, Options{Config: cfg, Stdout: live, Record: &capture})
	defer stop()
	run(t, "cat", "/etc/shadow")
	waitAlert(t, live, `"rule":"Read sensitive file untrusted"`)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	set, err := inspect.LoadValid([]string{rulesFile})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(set, cfg, runtime.Source{})
	if err != nil {
		t.Fatal(err)
	}
	var replayed []string
	err = runtime.ReadCapture(strings.NewReader(capture.String()), func(ev *runtime.Event) error {
		Evaluate(e, ev, "", nil, func(a *output.Alert) { replayed = append(replayed, a.Rule+" "+a.Message) })
		return nil
	}, func(line int, err error) { t.Errorf("line %d: %v", line, err) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(replayed, "\n"), "Read sensitive file untrusted Sensitive file opened for reading by non-trusted program | file=/etc/shadow") {
		t.Errorf("replayed alerts:\n%s", strings.Join(replayed, "\n"))
	}
}

// TestNetworkFields: the socket calls of bpf/testdata/netcalls fire rules
// over fd.* as Falco extracts them, both ends of each connection known.
func TestNetworkFields(t *testing.T) {
	out := startAgent(t, filepath.Join("testdata", "network_rules.yaml"))
	bin := filepath.Join(t.TempDir(), "netcalls")
	if b, err := exec.Command("go", "build", "-o", bin, "../bpf/testdata/netcalls").CombinedOutput(); err != nil {
		t.Fatalf("build netcalls: %v %s", err, b)
	}
	printed, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	var server, client int
	if _, err := fmt.Sscan(string(printed), &server, &client); err != nil {
		t.Fatalf("netcalls printed %q: %v", printed, err)
	}
	conn := fmt.Sprintf("127.0.0.1:%d->127.0.0.1:%d", client, server)
	truePath, err := filepath.EvalSymlinks("/bin/true") // the kernel's path: /usr/bin/true where /bin links to usr/bin
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{
		{fmt.Sprintf("listen name=127.0.0.1:%d lport=%[1]d proto=tcp", server)},
		{fmt.Sprintf("connect name=%s lip=127.0.0.1 cport=%d sport=%d server=false tuple=%[1]s", conn, client, server)},
		{fmt.Sprintf("accept name=%s sip=127.0.0.1 cip=127.0.0.1 sport=%d server=true", conn, server)},
		{"dup fd=100 name=" + conn},
		{"sendto name=0.0.0.0:", "->127.0.0.2:9 rport=9 proto=udp"},
		{"execveat exe=" + truePath + " type=execveat"},
	} {
		waitAlert(t, out, want...)
	}
}

// TestExePathAsFalco: a program run through a symlink has the resolved
// binary as proc.exepath, as Falco's kernel-side value has it (/usr/bin/sh
// is /usr/bin/dash on Debian), while the path executed stays in proc.exe's
// argv[0].
func TestExePathAsFalco(t *testing.T) {
	target, err := filepath.EvalSymlinks("/usr/bin/sh")
	if err != nil || target == "/usr/bin/sh" {
		t.Fatalf("/usr/bin/sh is not a symlink here (%q, %v): the test needs one", target, err)
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte("- rule: Shell exec path\n  desc: d\n  condition: evt.type = execve and proc.name = sh and proc.args contains exepath-probe\n"+
		"  output: exepath=%proc.exepath exe=%proc.exe\n  priority: NOTICE\n"), 0o644)
	out := startAgent(t, rules)
	run(t, "/usr/bin/sh", "-c", "sleep 0.5; true exepath-probe")
	waitAlert(t, out, "exepath="+target+" exe=/usr/bin/sh")
}

// TestExePathFromKernel: proc.exepath is the path the kernel has for the
// program, read at the exec: a script's is its interpreter's, even though
// the script's process has exec'd another program before the agent reads
// the record (/proc then names that other program).
func TestExePathFromKernel(t *testing.T) {
	dash, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "kpath-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec /usr/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte("- rule: Script exec path\n  desc: d\n  condition: evt.type = execve and proc.name = kpath-script\n"+
		"  output: exepath=%proc.exepath exe=%proc.exe\n  priority: NOTICE\n"), 0o644)
	out := startAgent(t, rules)
	run(t, script)
	waitAlert(t, out, "exepath="+dash+" exe=/bin/sh")
}

// TestSubreaperAdopts: a process whose parent exited belongs to the
// nearest subreaper above it (PR_SET_CHILD_SUBREAPER: containerd-shim,
// systemd --user), as the kernel reparents it and libsinsp follows, not to
// init: testdata/subreaper's orphaned shell has it as parent.
func TestSubreaperAdopts(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "subreaper")
	if b, err := exec.Command("go", "build", "-o", bin, "./testdata/subreaper").CombinedOutput(); err != nil {
		t.Fatalf("build subreaper: %v %s", err, b)
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte("- rule: Orphan reads\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/hostname and proc.name = cat\n"+
		"  output: parent=%proc.pname gparent=%proc.aname[2]\n  priority: NOTICE\n"), 0o644)
	out := startAgent(t, rules)
	run(t, bin)
	waitAlert(t, out, "parent=sh gparent=subreaper")
}

// TestExeFlagsAsFalco: an execve's evt.arg.flags and proc.is_exe_writable
// say, as Falco's do, whether the user that runs the program may write
// it: root may (a file in /dev/shm), nobody may not (/usr/bin/true).
func TestExeFlagsAsFalco(t *testing.T) {
	probe := filepath.Join("/dev/shm", "peregrine-probe-"+strconv.Itoa(os.Getpid()))
	data, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(probe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte("- rule: Exe flags\n  desc: d\n  condition: evt.type = execve and proc.args contains flags-probe\n"+
		"  output: exe=%proc.exepath flags=%evt.arg.flags writable=%proc.is_exe_writable\n  priority: NOTICE\n"), 0o644)
	out := startAgent(t, rules)
	run(t, probe, "flags-probe")
	waitAlert(t, out, "exe="+probe+" flags=EXE_WRITABLE writable=true")
	run(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/true", "flags-probe")
	waitAlert(t, out, "exe=/usr/bin/true flags=0 writable=false")
}

// TestCapsAsFalco: thread.cap_effective and thread.cap_permitted are the
// capability sets the kernel gave the program at its exec, by libsinsp's
// names in bit order: root under a bounding set of two capabilities has
// those two; a user other than root has none.
func TestCapsAsFalco(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte("- rule: Caps\n  desc: d\n  condition: evt.type = execve and proc.args contains caps-probe\n"+
		"  output: uid=%user.uid eff=[%thread.cap_effective] prm=[%thread.cap_permitted]\n  priority: NOTICE\n"), 0o644)
	out := startAgent(t, rules)
	run(t, "setpriv", "--bounding-set=-all,+sys_admin,+dac_override", "/usr/bin/true", "caps-probe")
	waitAlert(t, out, "uid=0 eff=[CAP_DAC_OVERRIDE CAP_SYS_ADMIN] prm=[CAP_DAC_OVERRIDE CAP_SYS_ADMIN]")
	run(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/true", "caps-probe")
	waitAlert(t, out, "uid=65534 eff=[] prm=[]")
}
