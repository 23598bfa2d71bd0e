package replay

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	fieldcat "github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/format"
)

type fields = map[string]any

// common is what most alerts print: the event, the process (root, no
// login, no terminal) and its parent, with the fields of its rule.
func common(evtType, name, exepath, pname, cmdline string, more fields) fields {
	f := fields{"evt.type": evtType, "proc.name": name, "proc.exepath": exepath, "proc.pname": pname,
		"proc.cmdline": cmdline, "user.name": "root", "user.uid": int64(0), "user.loginuid": int64(-1), "proc.tty": int64(0)}
	for k, v := range more {
		f[k] = v
	}
	return f
}

// netScript is the command line of falco_fields.sh's network trigger, a
// script of several lines: each newline shows as U+FFFD, as in Falco 0.44.
const netScript = "python3 -c \uFFFDimport os, socket\uFFFDsrv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)" +
	"\uFFFDsrv.bind((\"127.0.0.1\", 47211)); srv.listen()\uFFFDc = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)" +
	"\uFFFDc.bind((\"127.0.0.1\", 47212)); c.connect((\"127.0.0.1\", 47211))\uFFFDa, _ = srv.accept()\uFFFDos.dup2(c.fileno(), 1)" +
	"\uFFFDsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()\uFFFD"

// TestFieldsAsFalco replays a capture the agent recorded of harmless
// triggers of the upstream stable and incubating rules
// (testdata/falco_fields.sh says how) and compares every field of every
// alert with what Falco prints for that event. The expected values are
// written from libsinsp's field descriptions (conformance
// fields/libsinsp_fields.json) and the trigger that made the event, for
// example: fd.name the full path, fd.nameraw the path as given;
// proc.exepath the canonical path from the kernel (a script's is its
// interpreter's); proc.cwd with libsinsp's trailing slash; proc.aname[N]
// after a parent exited, the init that adopted the process; a login user
// nobody knows, <NA>; capabilities by name, in bit order; chmod modes in
// the order of libscap's flag table; control characters in a command line
// as U+FFFD. Rules that alert only in containers are given host
// conditions (testdata/falco_fields_rules.yaml) so that their outputs are
// compared too: every field the upstream outputs print is checked here.
//
// Some values are Peregrine's where Falco's could not be established from
// the material at hand (see issue 18's note): evt.args of the packet
// socket, the fd.* fields of a socket that is neither IP nor unix,
// fd.*ip.name of addresses no rule names, container.start_ts on the host.
func TestFieldsAsFalco(t *testing.T) {
	dir := filepath.Join(conformance.Dir(t), "rules")
	upstream := []string{filepath.Join(dir, "falco_rules.yaml"), filepath.Join(dir, "falco-incubating_rules.yaml")}
	out, errs, err := run(t, Options{RulesFiles: append(upstream, "testdata/falco_fields_rules.yaml"),
		SyscallFiles: []string{"testdata/falco_fields.jsonl"}})
	if err != nil || errs != "" {
		t.Fatalf("%v %s", err, errs)
	}
	want := []struct {
		rule   string
		fields fields
	}{
		{"Directory traversal monitored file read", common("openat", "cat", "/usr/bin/cat", "pg-trigger.sh", "cat /etc/../etc/../etc/shadow", fields{"fd.name": "/etc/shadow", "fd.nameraw": "/etc/../etc/../etc/shadow", "proc.aname[2]": "process_api", "proc.aname[3]": nil, "proc.aname[4]": nil})},
		{"Shell run through a symlink", fields{"proc.cwd": "/tmp/pgtrig/", "proc.exe": "/usr/bin/sh", "proc.exepath": "/usr/bin/dash"}},
		{"Read sensitive file untrusted", common("openat", "cat", "/usr/bin/cat", "sh", "cat /etc/shadow", fields{"fd.name": "/etc/shadow", "proc.aname[2]": "pg-trigger.sh", "proc.aname[3]": "process_api", "proc.aname[4]": nil})},
		{"Execution from /dev/shm", common("execve", "pg-trigger-true", "/dev/shm/pg-trigger-true", "pg-trigger.sh", "pg-trigger-true", fields{"evt.arg.flags": "EXE_WRITABLE", "evt.res": "SUCCESS", "fd.name": nil, "group.gid": int64(0), "group.name": "root", "proc.cwd": "/tmp/pgtrig/", "proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh", "user.loginname": "<NA>"})},
		{"Drop and execute new binary in container", common("execve", "pg-dropped", "/tmp/pgtrig/pg-dropped", "pg-trigger.sh", "pg-dropped", fields{"container.start_ts": nil, "evt.arg.flags": "EXE_WRITABLE", "proc.aname[2]": "process_api", "proc.cwd": "/tmp/pgtrig/", "proc.exe": "./pg-dropped", "proc.exe_ino.ctime": int64(1796252830348560623), "proc.exe_ino.ctime_duration_proc_start": int64(125664), "proc.exe_ino.mtime": int64(1796252830348560623), "proc.sname": "pg-trigger.sh"})},
		{"Read sensitive file untrusted", common("openat", "python3", "/usr/bin/python3.11", "pg-trigger.sh", "python3 -c import os\uFFFDopen(\"/etc/shadow\").close()\uFFFD# read", fields{"fd.name": "/etc/shadow", "proc.aname[2]": "process_api", "proc.aname[3]": nil, "proc.aname[4]": nil})},
		{"Create Symlink Over Sensitive Files", common("symlinkat", "ln", "/usr/bin/ln", "pg-trigger.sh", "ln -s /etc/shadow pg-link", fields{"evt.arg.linkpath": "/tmp/pgtrig/pg-link", "evt.arg.target": "/etc/shadow"})},
		{"Create Hardlink Over Sensitive Files", common("linkat", "ln", "/usr/bin/ln", "pg-trigger.sh", "ln /etc/shadow pg-hardlink", fields{"evt.arg.newpath": "/tmp/pgtrig/pg-hardlink", "evt.arg.oldpath": "/etc/shadow"})},
		{"Modify Shell Configuration File", common("openat", "touch", "/usr/bin/touch", "pg-trigger.sh", "touch .bash_history", fields{"fd.name": "/tmp/pgtrig/.bash_history", "proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh"})},
		{"Delete or rename shell history", common("unlinkat", "rm", "/usr/bin/rm", "pg-trigger.sh", "rm .bash_history", fields{"evt.arg.name": "/tmp/pgtrig/.bash_history", "evt.arg.oldpath": nil, "evt.arg.path": nil, "fd.name": nil})},
		{"Modify Shell Configuration File", common("openat", "touch", "/usr/bin/touch", "pg-trigger.sh", "touch .bash_history", fields{"fd.name": "/tmp/pgtrig/.bash_history", "proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh"})},
		{"Delete or rename shell history", common("unlink", "python3", "/usr/bin/python3.11", "pg-trigger.sh", "python3 -c import ctypes; ctypes.CDLL(None).unlink(b\".bash_history\")", fields{"evt.arg.name": nil, "evt.arg.oldpath": nil, "evt.arg.path": "/tmp/pgtrig/.bash_history", "fd.name": nil})},
		{"Modify Shell Configuration File", common("openat", "touch", "/usr/bin/touch", "pg-trigger.sh", "touch .bash_history", fields{"fd.name": "/tmp/pgtrig/.bash_history", "proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh"})},
		{"Delete or rename shell history", common("renameat2", "mv", "/usr/bin/mv", "pg-trigger.sh", "mv .bash_history pg-hist", fields{"evt.arg.name": nil, "evt.arg.oldpath": "/tmp/pgtrig/.bash_history", "evt.arg.path": nil, "fd.name": nil})},
		{"Clear Log Activities", common("openat", "pg-trigger.sh", "/usr/bin/dash", "process_api", "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh", fields{"fd.name": "/var/log/pg-trigger.log"})},
		{"Remove Bulk Data from Disk", common("execve", "shred", "/usr/bin/shred", "pg-trigger.sh", "shred -u pg-shred", fields{"evt.arg.flags": "EXE_WRITABLE", "fd.name": nil})},
		{"Set Setuid or Setgid bit", common("fchmodat", "chmod", "/usr/bin/chmod", "pg-trigger.sh", "chmod u+s pg-suid", fields{"evt.arg.fd": nil, "evt.arg.filename": "/tmp/pgtrig/pg-suid", "evt.arg.mode": "S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR|S_ISUID"})},
		{"Set Setuid or Setgid bit", common("fchmod", "python3", "/usr/bin/python3.11", "pg-trigger.sh", "python3 -c import os; os.fchmod(os.open(\"pg-suid\", os.O_RDONLY), 0o2755)", fields{"evt.arg.fd": "<f>/tmp/pgtrig/pg-suid", "evt.arg.filename": nil, "evt.arg.mode": "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISGID"})},
		{"Non sudo setuid", fields{"evt.arg.uid": "root", "evt.type": "setuid", "proc.cmdline": "python3 -c import ctypes; ctypes.CDLL(None).setuid(0)", "proc.exepath": "/usr/bin/python3.11", "proc.name": "python3", "proc.pname": "pg-trigger.sh", "proc.tty": int64(0), "user.loginuid": int64(-1), "user.name": "nobody", "user.uid": int64(65534)}},
		{"Find AWS Credentials", fields{"evt.arg.flags": "EXE_WRITABLE", "evt.type": "execve", "group.gid": int64(1), "group.name": "daemon", "proc.cmdline": "grep -s aws_secret_access_key /dev/null", "proc.cwd": "/tmp/pgtrig/", "proc.exepath": "/usr/bin/grep", "proc.name": "grep", "proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh", "proc.pname": "pg-trigger.sh", "proc.tty": int64(0), "user.loginname": "nobody", "user.loginuid": int64(65534), "user.name": "root", "user.uid": int64(0)}},
		{"Program run with disallowed http proxy env", common("execve", "curl", "/usr/bin/curl", "pg-trigger.sh", "curl -s -m 1 http://127.0.0.1:9/", fields{"evt.arg.flags": "EXE_WRITABLE", "proc.env": "HTTP_PROXY=http://127.0.0.1:9"})},
		{"BPF Program Not Profiled", common("bpf", "python3", "/usr/bin/python3.11", "pg-trigger.sh", "python3 -c import ctypes; ctypes.CDLL(None).syscall(321, 5, 0, 0)", fields{"evt.arg.cmd": "BPF_PROG_LOAD"})},
		{"PTRACE anti-debug attempt", common("ptrace", "python3", "/usr/bin/python3.11", "pg-trigger.sh", "python3 -c import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)", fields{"proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh"})},
		{"PTRACE attached to process", common("ptrace", "python3", "/usr/bin/python3.11", "pg-trigger.sh", "python3 -c import ctypes, time; l = ctypes.CDLL(None); l.ptrace(16, 10190, 0, 0); time.sleep(0.2); l.ptrace(17, 10190, 0, 0)", fields{"proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh"})},
		{"Fileless execution via memfd_create", common("execve", "3", "memfd:pg-payload", "pg-trigger.sh", "3", fields{"container.start_ts": nil, "evt.arg.flags": "EXE_WRITABLE|EXE_FROM_MEMFD", "evt.res": "SUCCESS", "proc.aname[2]": "process_api", "proc.cwd": "/tmp/pgtrig/", "proc.sname": "pg-trigger.sh"})},
		{"Contact K8S API Server From Container", common("connect", "python3", "/usr/bin/python3.11", "pg-trigger.sh", netScript, fields{"fd.l4proto": "tcp", "fd.lport": int64(47212), "fd.name": "127.0.0.1:47212->127.0.0.1:47211", "fd.rport": int64(47211), "fd.type": "ipv4"})},
		{"Network Connection outside Local Subnet", common("accept4", "python3", "/usr/bin/python3.11", "pg-trigger.sh", netScript, fields{"fd.cip.name": nil, "fd.l4proto": "tcp", "fd.lip.name": nil, "fd.lport": int64(47211), "fd.name": "127.0.0.1:47212->127.0.0.1:47211", "fd.rip.name": nil, "fd.rport": int64(47212), "fd.sip.name": nil, "fd.type": "ipv4"})},
		{"Redirect STDOUT/STDIN to Network Connection in Container", common("dup2", "python3", "/usr/bin/python3.11", "pg-trigger.sh", netScript, fields{"fd.l4proto": "tcp", "fd.lport": int64(47212), "fd.name": "127.0.0.1:47212->127.0.0.1:47211", "fd.rport": int64(47211), "fd.sip": "127.0.0.1", "fd.type": "ipv4", "proc.aname[2]": "process_api", "proc.aname[3]": nil, "proc.aname[4]": nil})},
		{"Packet socket created in container", common("socket", "python3", "/usr/bin/python3.11", "pg-trigger.sh", netScript, fields{"evt.args": "domain=AF_PACKET type=524291 proto=0 res=6", "fd.l4proto": nil, "fd.lport": nil, "fd.name": nil, "fd.rport": nil, "fd.type": nil})},
		{"Launch Excessively Capable Container", common("execve", "touch", "/usr/bin/touch", "pg-trigger.sh", "touch release_agent", fields{"thread.cap_permitted": "CAP_DAC_OVERRIDE CAP_SYS_ADMIN"})},
		{"Detect release_agent File Container Escapes", common("openat", "touch", "/usr/bin/touch", "pg-trigger.sh", "touch release_agent", fields{"fd.name": "/tmp/pgtrig/release_agent", "thread.cap_effective": "CAP_DAC_OVERRIDE CAP_SYS_ADMIN"})},
		{"Linux Kernel Module Injection Detected", common("execve", "ln", "/usr/bin/ln", "pg-trigger.sh", "ln -sf /usr/bin/python3 httpd", fields{"evt.res": "SUCCESS", "proc.aexepath[2]": "/usr/bin/dash", "proc.aname[2]": "pg-trigger.sh", "proc.args": "-sf /usr/bin/python3 httpd", "proc.pexepath": "/usr/bin/dash"})},
		{"Read sensitive file trusted after startup", common("openat", "httpd", "/usr/bin/python3.11", "pg-trigger.sh", "httpd -c import os, time; time.sleep(5.5); open(\"/etc/shadow\").close(); os.system(\"true\")", fields{"fd.name": "/etc/shadow", "proc.aname[2]": "pg-trigger.sh", "proc.aname[3]": "pg-trigger.sh", "proc.aname[4]": "process_api", "proc.pcmdline": "pg-trigger.sh /tmp/pgtrig/pg-trigger.sh nest 1 /tmp/pgtrig/httpd -c import os, time; time.sleep(5.5); open(\"/etc/shadow\").close(); os.system(\"true\")"})},
		{"Run shell untrusted", common("execve", "sh", "/usr/bin/dash", "httpd", "sh -c true", fields{"evt.arg.flags": "EXE_WRITABLE", "proc.aname[2]": "pg-trigger.sh", "proc.aname[3]": "pg-trigger.sh", "proc.aname[4]": "pg-trigger.sh", "proc.aname[5]": "process_api", "proc.aname[6]": nil, "proc.aname[7]": nil, "proc.pcmdline": "httpd -c import os, time; time.sleep(5.5); open(\"/etc/shadow\").close(); os.system(\"true\")", "proc.pexe": "/tmp/pgtrig/httpd", "proc.pexepath": "/usr/bin/python3.11"})},
		{"Read sensitive file untrusted", fields{"evt.type": "openat", "fd.name": "/etc/shadow", "proc.aname[2]": "script", "proc.aname[3]": "pg-trigger.sh", "proc.aname[4]": "process_api", "proc.cmdline": "cat /etc/shadow", "proc.exepath": "/usr/bin/cat", "proc.name": "cat", "proc.pname": "sh", "proc.tty": int64(34816), "user.loginuid": int64(-1), "user.name": "root", "user.uid": int64(0)}},
	}
	var got []struct {
		rule   string
		fields fields
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a struct {
			Rule         string
			OutputFields fields `json:"output_fields"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber() // nanoseconds do not fit a float64
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for _, k := range []string{"evt.time", "container.id", "container.name", "container.image.repository",
			"container.image.tag", "k8s.ns.name", "k8s.pod.name"} { // appended to every syscall rule's output
			delete(a.OutputFields, k)
		}
		for k, v := range a.OutputFields {
			if n, ok := v.(json.Number); ok {
				a.OutputFields[k], _ = n.Int64()
			}
		}
		got = append(got, struct {
			rule   string
			fields fields
		}{a.Rule, a.OutputFields})
	}
	if len(got) != len(want) {
		t.Errorf("%d alerts, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i].rule != want[i].rule {
			t.Errorf("alert %d: rule %q, want %q", i, got[i].rule, want[i].rule)
			continue
		}
		if diff := cmp.Diff(want[i].fields, got[i].fields); diff != "" {
			t.Errorf("alert %d (%s) fields (-want +got):\n%s", i, want[i].rule, diff)
		}
	}
	checked := map[string]bool{}
	for _, w := range want {
		for k := range w.fields {
			checked[k] = true
		}
	}
	printed := outputFields(t, upstream)
	if len(printed) != 58 {
		t.Errorf("the upstream outputs print %d fields, want 58", len(printed))
	}
	for _, f := range printed {
		if !checked[f] {
			t.Errorf("%s, which an upstream output prints, is checked on no alert", f)
		}
	}
}

// outputFields lists the fields the rules of files print in their outputs,
// as the loader's format parser reads them.
func outputFields(t *testing.T, files []string) []string {
	cat := fieldcat.Syscall()
	known := func(name string) bool { _, _, ok := cat.Lookup(name); return ok }
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var items []struct{ Rule, Output string }
		if err := yaml.Unmarshal(b, &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Rule == "" {
				continue
			}
			toks, err := format.Parse(it.Output, known)
			if err != nil {
				t.Fatalf("%s: %v", it.Rule, err)
			}
			for _, tok := range toks {
				if tok.Field != "" && !slices.Contains(out, tok.Field) {
					out = append(out, tok.Field)
				}
			}
		}
	}
	return out
}
