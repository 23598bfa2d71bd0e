package runtime

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// compile loads one rule with the given condition and compiles it.
func compile(t testing.TB, cond string) *engine.Engine[Event] {
	t.Helper()
	l := rules.NewLoader(fields.Syscall())
	res := l.Load("t.yaml", "- rule: r\n  desc: d\n  condition: "+quoteYAML(cond)+"\n  output: o\n  priority: INFO\n  warn_evttypes: false\n")
	if !res.Successful {
		t.Fatalf("load %q: %v", cond, res.Errors)
	}
	e, err := engine.New[Event](Source{}, fields.Syscall(), l.Set(), engine.DefaultOptions())
	if err != nil {
		t.Fatalf("compile %q: %v", cond, err)
	}
	return e
}

func quoteYAML(s string) string {
	b := []byte{'\''}
	for _, c := range []byte(s) {
		if c == '\'' {
			b = append(b, '\'')
		}
		b = append(b, c)
	}
	return string(append(b, '\''))
}

func shellInContainer() *Event {
	ctr := &Container{ID: "0123456789ab", Image: "nginx:1.27", ImageRepo: "nginx", ImageTag: "1.27", PodName: "web", Namespace: "shop"}
	runc := (&Thread{Pid: 900, Name: "runc", ExePath: "/usr/bin/runc"}).Init()
	init := (&Thread{Pid: 1000, Name: "containerd-shim", Parent: runc}).Init()
	sh := (&Thread{Pid: 1001, Name: "bash", Exe: "bash", ExePath: "/bin/bash", Args: []string{"-i"}, Tty: 34816,
		User: "root", LoginUID: -1, Parent: init, Container: ctr, Env: []string{"HOME=/root", "TERM=xterm"}}).Init()
	return &Event{Type: typeOf("execve"), Num: 7, Thread: sh}
}

func connectEvent() *Event {
	t := (&Thread{Pid: 50, Name: "nc", User: "bob", Parent: (&Thread{Name: "sh"}).Init()}).Init()
	return &Event{Type: typeOf("connect"), Thread: t, FD: &FD{Num: 3, TypeChar: '4', Name: "10.0.0.2:40000->203.0.113.9:4444",
		LocalIP: netip.MustParseAddr("10.0.0.2"), LocalPort: 40000, RemoteIP: netip.MustParseAddr("203.0.113.9"), RemotePort: 4444}}
}

func TestConditionSemantics(t *testing.T) {
	sh, conn := shellInContainer(), connectEvent()
	tests := []struct {
		cond string
		ev   *Event
		want bool
	}{
		{"evt.type = execve and proc.name = bash", sh, true},
		{"evt.type = execve and proc.name != bash", sh, false},
		{"evt.type = execve and proc.name in (sh, bash)", sh, true},
		{"evt.type = execve and proc.cmdline = \"bash -i\"", sh, true},
		{"evt.type = execve and proc.pname = containerd-shim", sh, true},
		{"evt.type = execve and proc.aname[2] = runc", sh, true},
		{"evt.type = execve and proc.aname = runc", sh, true},
		{"evt.type = execve and proc.aname = sshd", sh, false},
		{"evt.type = execve and proc.tty != 0", sh, true},
		{"evt.type = execve and user.loginuid = -1", sh, true},
		{"evt.type = execve and container.id != host and container.image.repository = nginx", sh, true},
		{"evt.type = execve and proc.env[TERM] = xterm", sh, true},
		{"evt.type = execve and proc.exepath glob '/bin/*sh'", sh, true},
		{"evt.type = execve and proc.exepath pmatch (/bin)", sh, true},
		{"evt.type = execve and proc.exepath pmatch (/bi)", sh, false},
		{"evt.type = execve and proc.name icontains BAS", sh, true},
		{"evt.type = execve and proc.name startswith oneof (ba, bas)", sh, false},
		{"evt.type = execve and proc.name startswith anyof (ba, zz)", sh, true},
		{"evt.type = execve and toupper(proc.name) = BASH", sh, true},
		{"evt.type = execve and len(proc.name) = 4", sh, true},
		{"evt.type = execve and proc.name = val(proc.exe)", sh, true},
		{"evt.type = execve and proc.name != val(proc.exe)", sh, false},
		{"evt.type = execve and proc.pid > val(proc.ppid)", sh, true},
		{"evt.type = execve and proc.pid <= val(proc.ppid)", sh, false},
		{"evt.type = execve and proc.exepath endswith val(proc.name)", sh, true},
		{"evt.type = execve and proc.exepath startswith val(proc.name)", sh, false},
		{"evt.type = execve and proc.exepath glob val(proc.exepath)", sh, true},
		{"evt.type = execve and proc.exepath contains val(proc.pname)", sh, false},
		{"evt.type = execve and proc.name regex 'ba.h'", sh, true},
		{`evt.type = execve and join("-", (proc.name, proc.pname)) = bash-containerd-shim`, sh, true},
		{`evt.type = execve and concat(proc.name, "!") = "bash!"`, sh, true},
		{`evt.type = execve and concat(proc.name, fd.name) exists`, sh, false},
		// Absent fields make every check false, != included.
		{"evt.type = execve and fd.name != /etc/passwd", sh, false},
		{"evt.type = execve and not fd.name exists", sh, true},
		{"evt.type = connect and fd.rport in (4444, 1337) and fd.sip = 203.0.113.9", conn, true},
		{"evt.type = connect and fd.sip = 203.0.113.0/24 and fd.cip != 10.0.0.0/8", conn, false},
		{"evt.type = connect and fd.typechar = 4 and fd.sport = 4444 and fd.cport = 40000", conn, true},
		// fd.ip, fd.net, fd.port: = and in hold when either end does, != when both do.
		{"evt.type = connect and fd.ip = 10.0.0.2 and fd.ip = 203.0.113.9", conn, true},
		{"evt.type = connect and fd.ip != 10.0.0.2", conn, false},
		{"evt.type = connect and fd.ip != 0.0.0.0 and fd.net != 127.0.0.0/8", conn, true},
		{"evt.type = connect and fd.net in (192.168.0.0/16, 10.0.0.0/8)", conn, true},
		{"evt.type = connect and fd.port = 40000 and fd.port != 22", conn, true},
		{"evt.type = connect and fd.port != 4444", conn, false},
		{"evt.type = connect and fd.l4proto != tcp and fd.sockfamily = ip", conn, true},
		{`evt.type = execve and proc.env icontains "term=XTERM"`, sh, true},
		{"evt.type = execve and proc.sname = runc and proc.vpgid.name = runc", sh, true}, // all in one session and group
		// Rules are indexed by event type: an execve never reaches a connect rule.
		{"evt.type = connect and proc.name = bash", sh, false},
	}
	for _, tt := range tests {
		e := compile(t, tt.cond)
		got := len(e.Match(tt.ev, nil)) == 1
		if got != tt.want {
			t.Errorf("%s: matched = %v, want %v", tt.cond, got, tt.want)
		}
	}
}

func TestDefaultRulesFire(t *testing.T) {
	l := rules.NewLoader(fields.Syscall(), fields.K8sAudit())
	set := loadDefault(t, l)
	e, err := engine.New[Event](Source{}, fields.Syscall(), set, engine.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ev   *Event
		rule string
		out  string
	}{
		{shellInContainer(), "Shell spawned in a container",
			"Shell spawned in a container (user=root shell=bash cmdline=bash -i parent=containerd-shim tty=34816 container_id=0123456789ab image=nginx pod=web ns=shop k8s_user=<NA>)"},
		{connectEvent(), "Outbound connection to a suspicious port",
			"Outbound connection to a suspicious port (command=nc connection=10.0.0.2:40000->203.0.113.9:4444 port=4444 user=bob container_id=host)"},
	}
	for _, tt := range tests {
		m := e.Match(tt.ev, nil)
		if len(m) != 1 || m[0].Name != tt.rule {
			t.Errorf("%s: matched %v", tt.rule, m)
			continue
		}
		if diff := cmp.Diff(tt.out, render(m[0], tt.ev)); diff != "" {
			t.Errorf("%s output (-want +got):\n%s", tt.rule, diff)
		}
	}
}

func render(r *engine.Rule[Event], ev *Event) string {
	msg, _ := r.Output.Render(ev)
	return msg
}

// TestRuleReads: what a rule reads is seen through its macros and in its
// output, which is how the agent knows which rules wait for a session.
func TestRuleReads(t *testing.T) {
	l := rules.NewLoader(fields.Syscall())
	res := l.Load("t.yaml", `
- macro: by_someone
  condition: k8s.exec.user exists
- rule: r
  desc: d
  condition: evt.type = execve and by_someone and proc.aname[2] = sshd
  output: started %proc.name audit=%k8s.exec.auditid
  priority: INFO
`)
	if !res.Successful {
		t.Fatal(res.Errors)
	}
	e, err := engine.New[Event](Source{}, fields.Syscall(), l.Set(), engine.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	r := e.Rules()[0]
	var got []string
	for _, f := range []string{"evt.type", "k8s.exec.user", "proc.aname", "proc.name", "k8s.exec.auditid", "k8s.exec.groups", "fd.name"} {
		if r.Reads(f) {
			got = append(got, f)
		}
	}
	if diff := cmp.Diff([]string{"evt.type", "k8s.exec.user", "proc.aname", "proc.name", "k8s.exec.auditid"}, got); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
}

// TestPriorityFilter: the configuration's priority drops the rules less
// severe than it before they are compiled, as Falco does not load them.
func TestPriorityFilter(t *testing.T) {
	l := rules.NewLoader(fields.Syscall())
	var src string
	for _, p := range []string{"DEBUG", "INFORMATIONAL", "NOTICE", "WARNING", "ERROR", "CRITICAL"} {
		src += "- rule: " + p + "\n  desc: d\n  condition: evt.type=execve\n  output: o\n  priority: " + p + "\n"
	}
	if res := l.Load("t.yaml", src); !res.Successful {
		t.Fatal(res.Errors)
	}
	for _, tt := range []struct {
		priority string
		want     []string
	}{
		{"debug", []string{"DEBUG", "INFORMATIONAL", "NOTICE", "WARNING", "ERROR", "CRITICAL"}},
		{"warning", []string{"WARNING", "ERROR", "CRITICAL"}},
		{"critical", []string{"CRITICAL"}},
	} {
		cfg, err := config.Load("", []string{"priority=" + tt.priority})
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New[Event](Source{}, fields.Syscall(), l.Set(), cfg.EngineOptions())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range e.Rules() {
			got = append(got, r.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("priority %s (-want +got):\n%s", tt.priority, diff)
		}
	}
}
