package runtime

import (
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// upstreamEngine compiles Falco's stable and incubating syscall rules.
func upstreamEngine(t testing.TB) *engine.Engine[Event] {
	t.Helper()
	l := rules.NewLoader(fields.Syscall())
	for _, name := range []string{"falco_rules.yaml", "falco-incubating_rules.yaml"} {
		b, err := os.ReadFile(filepath.Join(conformance.Dir(t), "rules", name))
		if err != nil {
			t.Fatal(err)
		}
		if res := l.Load(name, string(b)); !res.Successful {
			t.Fatalf("%s: %v", name, res.Errors)
		}
	}
	opts := engine.DefaultOptions()
	opts.MatchAll = true
	e, err := engine.New[Event](Source{}, fields.Syscall(), l.Set(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// eventMix is a synthetic but realistic syscall stream: mostly file opens
// by services, then process starts, network connections and the odd
// privilege change, from host processes and containers.
func eventMix() []*Event {
	ctr := &Container{ID: "3ad7b26ded6d", Image: "nginx:1.27", ImageRepo: "docker.io/library/nginx", ImageTag: "1.27", PodName: "web-1", Namespace: "shop"}
	systemd := (&Thread{Pid: 1, Name: "systemd", ExePath: "/usr/lib/systemd/systemd", User: "root", LoginUID: -1}).Init()
	sshd := (&Thread{Pid: 700, Name: "sshd", ExePath: "/usr/sbin/sshd", Parent: systemd, User: "root", LoginUID: -1}).Init()
	bash := (&Thread{Pid: 900, Name: "bash", ExePath: "/usr/bin/bash", Parent: sshd, Tty: 34816, User: "alice", UID: 1000, LoginUID: 1000}).Init()
	shim := (&Thread{Pid: 1200, Name: "containerd-shim", ExePath: "/usr/bin/containerd-shim-runc-v2", Parent: systemd, User: "root", LoginUID: -1}).Init()
	nginx := (&Thread{Pid: 1300, Name: "nginx", ExePath: "/usr/sbin/nginx", Args: []string{"-g", "daemon off;"}, Parent: shim, Container: ctr, User: "nginx", UID: 101, LoginUID: -1}).Init()
	csh := (&Thread{Pid: 1400, Name: "sh", ExePath: "/bin/sh", Args: []string{"-c", "curl http://x"}, Parent: nginx, Container: ctr, User: "root", LoginUID: -1}).Init()
	cat := (&Thread{Pid: 1500, Name: "cat", ExePath: "/usr/bin/cat", Args: []string{"/etc/shadow"}, Parent: bash, Tty: 34816, User: "root", LoginUID: 1000}).Init()
	py := (&Thread{Pid: 1600, Name: "python3", ExePath: "/usr/bin/python3.11", Args: []string{"app.py"}, Parent: systemd, User: "app", UID: 998, LoginUID: -1}).Init()
	file := func(t *Thread, typ, name string, flags uint32) *Event {
		return &Event{Type: typeOf(typ), Thread: t, Flags: flags, FD: &FD{Num: 5, TypeChar: 'f', Name: name}}
	}
	conn := func(t *Thread, rip string, port uint16) *Event {
		return &Event{Type: typeOf("connect"), Thread: t, FD: &FD{Num: 7, TypeChar: '4', Name: "x", LocalIP: netip.MustParseAddr("10.1.0.5"),
			LocalPort: 41000, RemoteIP: netip.MustParseAddr(rip), RemotePort: port, Connected: true}}
	}
	exec := func(t *Thread) *Event { return &Event{Type: typeOf("execve"), Thread: t} }
	evs := []*Event{
		file(nginx, "openat", "/etc/nginx/nginx.conf", OpenRead), file(nginx, "openat", "/var/log/nginx/access.log", OpenWrite),
		file(py, "openat", "/usr/lib/python3.11/os.py", OpenRead), file(py, "openat", "/srv/app/data.db", OpenRead|OpenWrite),
		file(systemd, "openat", "/proc/1/cgroup", OpenRead), file(bash, "openat", "/home/alice/.bash_history", OpenWrite),
		file(cat, "openat", "/etc/shadow", OpenRead), file(py, "open", "/tmp/cache.json", OpenWrite|OpenCreat),
		file(csh, "openat", "/etc/passwd", OpenRead), file(nginx, "openat", "/usr/share/nginx/html/index.html", OpenRead),
		exec(bash), exec(cat), exec(csh), exec(py),
		conn(py, "10.96.0.1", 443), conn(csh, "203.0.113.9", 4444), conn(nginx, "10.1.0.9", 8080),
		{Type: typeOf("setuid"), Thread: bash, Args: []Arg{{"uid", "0"}}},
		{Type: typeOf("close"), Thread: nginx, FD: &FD{Num: 5, TypeChar: 'f', Name: "/etc/nginx/nginx.conf"}},
		{Type: typeOf("unlinkat"), Thread: bash, Args: []Arg{{"name", "/var/log/auth.log"}}},
	}
	for i, ev := range evs {
		ev.Num = uint64(i + 1) // evt.num = 0 is Falco's "never" placeholder
	}
	return evs
}

// TestUpstreamRulesOnMix checks the benchmark's setup means something: the
// upstream rules do fire on the mix, and not on everything.
func TestUpstreamRulesOnMix(t *testing.T) {
	e := upstreamEngine(t)
	fired := map[string]bool{}
	for _, ev := range eventMix() {
		for _, r := range e.Match(ev, nil) {
			fired[r.Name] = true
		}
	}
	for _, want := range []string{"Read sensitive file untrusted", "Non sudo setuid"} {
		if !fired[want] {
			t.Errorf("%q did not fire; fired: %v", want, fired)
		}
	}
	if len(fired) == 0 || len(fired) > 10 {
		t.Errorf("fired %d rules: %v", len(fired), fired)
	}
}

// BenchmarkUpstreamRules evaluates Falco's stable + incubating rules on the
// event mix, reporting the cost per event.
func BenchmarkUpstreamRules(b *testing.B) {
	e := upstreamEngine(b)
	events := eventMix()
	out := make([]*engine.Rule[Event], 0, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, ev := range events {
			out = e.Match(ev, out[:0])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}

// captured is the recorded capture of real work (testdata/record.sh: a Go
// build, a git clone, a tarball packed and unpacked, a package installed),
// read into events.
func captured(tb testing.TB) []*Event {
	f, err := os.Open(filepath.Join("testdata", "capture.jsonl.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var evs []*Event
	err = ReadCapture(zr, func(ev *Event) error {
		evs = append(evs, ev)
		return nil
	}, func(line int, err error) { tb.Fatalf("capture line %d: %v", line, err) })
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// BenchmarkUpstreamRulesCapture evaluates Falco's stable + incubating rules
// on the recorded capture of real work, reporting the cost per event and
// how many rules matched per thousand events.
func BenchmarkUpstreamRulesCapture(b *testing.B) {
	e := upstreamEngine(b)
	events := captured(b)
	out := make([]*engine.Rule[Event], 0, 8)
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		matched = 0
		for _, ev := range events {
			out = e.Match(ev, out[:0])
			matched += len(out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
	b.ReportMetric(float64(len(events)), "events")
	b.ReportMetric(1000*float64(matched)/float64(len(events)), "matches/1k-events")
}

// TestCaptureIsRealWork checks the benchmark's capture holds what
// testdata/record.sh says it records.
func TestCaptureIsRealWork(t *testing.T) {
	ran := map[string]int{}
	evs := captured(t)
	for _, ev := range evs {
		if ev.Type == typeOf("execve") {
			ran[ev.Thread.Name]++
		}
	}
	for _, prog := range []string{"compile", "link", "git", "tar", "dpkg"} {
		if ran[prog] == 0 {
			t.Errorf("no exec of %s in the capture; execs: %v", prog, ran)
		}
	}
	if len(evs) < 10000 {
		t.Errorf("%d events, want the 10,000 and more of a build", len(evs))
	}
}
