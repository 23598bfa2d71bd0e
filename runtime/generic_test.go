package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/peregrine-sec/peregrine/bpf"
)

func cstr(dst []int8, s string) {
	for i := range len(s) {
		dst[i] = int8(s[i])
	}
}

// genericRecord is a generic syscall record from pid 42 (cwd /home/u).
func genericRecord(name string, ret int64, nums []int64, path1, path2 string) *bpf.Record {
	rec := &bpf.Record{Kind: bpf.KindSyscall, Syscall: bpf.Numbers[name], Pid: 42, Ret: ret}
	copy(rec.Nums[:], nums)
	cstr(rec.Path[:], path1)
	cstr(rec.Args[:], path2)
	return rec
}

func TestApplyGeneric(t *testing.T) {
	truncate := genericRecord("", 3, nil, ".zsh_history", "")
	truncate.Kind, truncate.Syscall, truncate.Flags, truncate.Fd = bpf.KindOpen, bpf.SysOpenat, 0o1101, atFDCWD
	traversal := genericRecord("", 3, nil, "/etc/../etc/../etc/passwd", "")
	traversal.Kind, traversal.Syscall, traversal.Fd = bpf.KindOpen, bpf.SysOpenat, atFDCWD
	upward := genericRecord("", -2, nil, "../../etc//shadow", "")
	upward.Kind, upward.Syscall, upward.Fd = bpf.KindOpen, bpf.SysOpenat, atFDCWD
	mount := genericRecord("mount", 0, []int64{0, 0, 0, 1}, "tmpfs", "mnt")
	cstr(mount.Args[256:], "tmpfs")
	tests := []struct {
		name         string
		rec          *bpf.Record
		wantType     string
		wantArgs     []Arg
		wantUID      uint32
		wantUserName string
	}{
		{"open for truncation", truncate, "openat",
			[]Arg{{"fd", "3"}, {"name", "/home/u/.zsh_history"}, {"flags", "O_TRUNC|O_CREAT|O_WRONLY"}}, 1000, "u"},
		// fd.name resolves . and .. (and //) as Falco does; fd.nameraw keeps
		// the path as given.
		{"directory traversal", traversal, "openat",
			[]Arg{{"fd", "3"}, {"name", "/etc/passwd"}, {"flags", "O_RDONLY"}}, 1000, "u"},
		{"failed relative open upward", upward, "openat",
			[]Arg{{"fd", "-2"}, {"name", "/etc/shadow"}, {"flags", "O_RDONLY"}}, 1000, "u"},
		{"chmod setuid bit", genericRecord("chmod", 0, []int64{0, 0o4755}, "bin/tool", ""), "chmod",
			[]Arg{{"filename", "/home/u/bin/tool"}, {"mode", "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"}, {"res", "0"}},
			1000, "u"},
		{"unlinkat relative", genericRecord("unlinkat", 0, []int64{-100, 0, 0}, ".bash_history", ""), "unlinkat",
			[]Arg{{"dirfd", "-100"}, {"name", "/home/u/.bash_history"}, {"flags", "0"}, {"res", "0"}}, 1000, "u"},
		{"rename two paths", genericRecord("rename", 0, nil, "/a", "/b"), "rename",
			[]Arg{{"oldpath", "/a"}, {"newpath", "/b"}, {"res", "0"}}, 1000, "u"},
		{"setuid to root updates the user", genericRecord("setuid", 0, []int64{0}, "", ""), "setuid",
			[]Arg{{"uid", "root"}, {"res", "0"}}, 0, "root"},
		{"failed setuid changes nothing", genericRecord("setuid", -1, []int64{0}, "", ""), "setuid",
			[]Arg{{"uid", "root"}, {"res", "-1"}}, 1000, "u"},
		{"setresuid -1 keeps the euid", genericRecord("setresuid", 0, []int64{0, 0xffffffff, 0}, "", ""), "setresuid",
			[]Arg{{"ruid", "root"}, {"euid", "4294967295"}, {"suid", "root"}, {"res", "0"}}, 1000, "u"},
		{"ptrace attach", genericRecord("ptrace", 0, []int64{16, 77}, "", ""), "ptrace",
			[]Arg{{"request", "PTRACE_ATTACH"}, {"pid", "77"}, {"res", "0"}}, 1000, "u"},
		{"unshare namespaces", genericRecord("unshare", 0, []int64{0x10020000}, "", ""), "unshare",
			[]Arg{{"flags", "CLONE_NEWNS|CLONE_NEWUSER"}, {"res", "0"}}, 1000, "u"},
		{"mount: the device as given, the target resolved", mount, "mount",
			[]Arg{{"dev", "tmpfs"}, {"dir", "/home/u/mnt"}, {"type", "tmpfs"}, {"flags", "1"}, {"res", "0"}}, 1000, "u"},
		{"umount2", genericRecord("umount2", 0, []int64{0, 2}, "/mnt", ""), "umount2",
			[]Arg{{"name", "/mnt"}, {"flags", "2"}, {"res", "0"}}, 1000, "u"},
		{"socket domain", genericRecord("socket", 3, []int64{17, 3, 768}, "", ""), "socket",
			[]Arg{{"domain", "AF_PACKET"}, {"type", "3"}, {"proto", "768"}, {"res", "3"}}, 1000, "u"},
		// A descriptor the process opened shows as libsinsp resolves it.
		{"fchmod of an open file", genericRecord("fchmod", 0, []int64{5, 0o2755}, "", ""), "fchmod",
			[]Arg{{"fd", "<f>/home/u/tool"}, {"mode", "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISGID"}, {"res", "0"}},
			1000, "u"},
		{"fchmod of an unknown fd", genericRecord("fchmod", -9, []int64{9, 0o644}, "", ""), "fchmod",
			[]Arg{{"fd", "9"}, {"mode", "S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR"}, {"res", "-9"}}, 1000, "u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable(t.TempDir())
			tab.procs[42] = (&Thread{Pid: 42, Name: "sh", Cwd: "/home/u", UID: 1000, User: "u"}).Init()
			tab.procs[42].setFD(&FD{Num: 5, TypeChar: 'f', Name: "/home/u/tool"})
			var ev Event
			if !tab.Apply(tt.rec, &ev) {
				t.Fatal("Apply reported no event")
			}
			if got := ev.Type.String(); got != tt.wantType {
				t.Errorf("type %q, want %q", got, tt.wantType)
			}
			if diff := cmp.Diff(tt.wantArgs, ev.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if ev.Thread.UID != tt.wantUID || ev.Thread.User != tt.wantUserName {
				t.Errorf("user %d %q, want %d %q", ev.Thread.UID, ev.Thread.User, tt.wantUID, tt.wantUserName)
			}
		})
	}
}

// BenchmarkApply turns kernel records into rule events: an open (with its
// evt.arg.* texts) and a generic chmod.
func BenchmarkApply(b *testing.B) {
	open := genericRecord("", 3, nil, "/etc/hostname", "")
	open.Kind, open.Syscall, open.Flags = bpf.KindOpen, bpf.SysOpenat, 0o2000000
	for _, bc := range []struct {
		name string
		rec  *bpf.Record
	}{{"open", open}, {"chmod", genericRecord("chmod", 0, []int64{0, 0o755}, "/tmp/x", "")}} {
		b.Run(bc.name, func(b *testing.B) {
			tab := NewTable(b.TempDir())
			tab.procs[42] = (&Thread{Pid: 42, Name: "sh", Cwd: "/home/u"}).Init()
			var ev Event
			b.ReportAllocs()
			for b.Loop() {
				tab.Apply(bc.rec, &ev)
			}
		})
	}
}

// TestGenericTable: every syscall the probe carries generically has a Falco
// event type and named arguments, so none reaches the rules bare.
func TestGenericTable(t *testing.T) {
	for name, nr := range bpf.Numbers {
		sc := genericByNumber[nr]
		if sc.name != name || sc.typ == 0 || sc.typ.String() != name || len(sc.args) == 0 {
			t.Errorf("%s (%d): %+v", name, nr, sc)
		}
	}
}

// TestFalcoRendering: fields rendered as libsinsp renders them (issue 18):
// proc.cwd with a trailing slash, fd.name resolved, fd.nameraw as given.
func TestFalcoRendering(t *testing.T) {
	tab := NewTable(t.TempDir())
	tab.procs[42] = (&Thread{Pid: 42, Name: "cat", Cwd: "/tmp", UID: 1000, User: "u"}).Init()
	rec := genericRecord("", 3, nil, "../etc/./passwd", "")
	rec.Kind, rec.Syscall, rec.Fd = bpf.KindOpen, bpf.SysOpenat, atFDCWD
	var ev Event
	if !tab.Apply(rec, &ev) {
		t.Fatal("Apply reported no event")
	}
	got := map[string]string{}
	for _, f := range []string{"proc.cwd", "fd.name", "fd.nameraw"} {
		got[f], _ = accessors[f].Str(&ev)
	}
	want := map[string]string{"proc.cwd": "/tmp/", "fd.name": "/etc/passwd", "fd.nameraw": "../etc/./passwd"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	ev.Thread.Cwd = "/"
	if cwd, _ := accessors["proc.cwd"].Str(&ev); cwd != "/" {
		t.Errorf("proc.cwd of / is %q, want /", cwd)
	}
}

// TestExePathResolved: proc.exepath is the program's canonical path while
// /proc/PID/exe names the inode the kernel reported; past that (the
// process gone, or exec'd again) the path executed, its symlinks resolved
// when that leads to the inode, as is.
func TestExePathResolved(t *testing.T) {
	dir := t.TempDir()
	binary, link, other := filepath.Join(dir, "dash"), filepath.Join(dir, "sh"), filepath.Join(dir, "true")
	os.WriteFile(binary, []byte("#!"), 0o755)
	os.WriteFile(other, []byte("#!"), 0o755)
	os.Symlink(binary, link)
	var st unix.Stat_t
	if err := unix.Stat(binary, &st); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		exe  string // what /proc/42/exe links to: the process now runs it
		ino  uint64
		want string
	}{
		{"running", binary, st.Ino, binary},
		{"exec'd again", other, st.Ino, binary},
		{"another inode", binary, st.Ino + 1, link},
	} {
		procfs := t.TempDir()
		os.MkdirAll(filepath.Join(procfs, "42"), 0o755)
		os.Symlink(tt.exe, filepath.Join(procfs, "42", "exe")) // as the kernel shows it: resolved
		tab := NewTable(procfs)
		rec := &bpf.Record{Kind: bpf.KindExec, Pid: 42, Tid: 42, Syscall: bpf.SysExecve, ExeIno: tt.ino}
		cstr(rec.Path[:], link)
		cstr(rec.Args[:], "sh")
		rec.ArgsLen = 3
		var ev Event
		if !tab.Apply(rec, &ev) {
			t.Fatal("Apply reported no event")
		}
		if got, _ := accessors["proc.exepath"].Str(&ev); got != tt.want {
			t.Errorf("%s: proc.exepath %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestExePathMemfd: a program run from a memfd keeps the name the probe
// gave it, not made absolute against the working directory.
func TestExePathMemfd(t *testing.T) {
	tab := NewTable(t.TempDir())
	tab.procs[42] = (&Thread{Pid: 42, Name: "sh", Cwd: "/work", UID: 0, User: "root"}).Init()
	rec := &bpf.Record{Kind: bpf.KindExec, Pid: 42, Tid: 42, Syscall: bpf.SysExecve, ExeFlags: exeMemfd}
	cstr(rec.Path[:], "memfd:payload")
	var ev Event
	if !tab.Apply(rec, &ev) {
		t.Fatal("Apply reported no event")
	}
	if got, _ := accessors["proc.exepath"].Str(&ev); got != "memfd:payload" {
		t.Errorf("proc.exepath %q, want memfd:payload", got)
	}
}

// TestCapsText: capability sets as libsinsp's caps_to_string renders them.
func TestCapsText(t *testing.T) {
	for _, tt := range []struct {
		caps int64
		want string
	}{
		{0, ""},
		{1<<1 | 1<<21, "CAP_DAC_OVERRIDE CAP_SYS_ADMIN"},
		{1 << 40, "CAP_CHECKPOINT_RESTORE"},
		{1<<41 | 1, "CAP_CHOWN"}, // past the last capability named: not shown
	} {
		if got := capsText(tt.caps); got != tt.want {
			t.Errorf("capsText(%#x) = %q, want %q", tt.caps, got, tt.want)
		}
		if back := capsText(int64(capsMask(tt.want))); back != tt.want { // a capture keeps the mask
			t.Errorf("capsMask(%q) renders %q", tt.want, back)
		}
	}
}

// TestFDText: descriptors as libsinsp resolves them in evt.arg.*.
func TestFDText(t *testing.T) {
	for _, tt := range []struct {
		fd   FD
		want string
	}{
		{FD{TypeChar: 'f', Name: "/etc/passwd"}, "<f>/etc/passwd"},
		{FD{TypeChar: '4', L4Proto: 6, Name: "127.0.0.1:47212->127.0.0.1:47211"}, "<4t>127.0.0.1:47212->127.0.0.1:47211"},
		{FD{TypeChar: '6', L4Proto: 17, Name: "::1:53->::1:5353"}, "<6u>::1:53->::1:5353"},
		{FD{TypeChar: 'u', Name: "/run/x.sock"}, "<u>/run/x.sock"},
	} {
		if got := fdText(&tt.fd); got != tt.want {
			t.Errorf("fdText(%+v) = %q, want %q", tt.fd, got, tt.want)
		}
	}
}

// TestOpenFlagNames: open flags in the order of libscap's file_flags
// table, as Falco prints them.
func TestOpenFlagNames(t *testing.T) {
	for _, tt := range []struct {
		flags int64
		want  string
	}{
		{0, "O_RDONLY"},
		{0o2000000, "O_RDONLY|O_CLOEXEC"},
		{0o1101, "O_TRUNC|O_CREAT|O_WRONLY"},
		{0o2304000, "O_LARGEFILE|O_DIRECTORY|O_NONBLOCK|O_RDONLY|O_CLOEXEC"}, // opendir(3), as the kernel sees it
		{0o102302, "O_LARGEFILE|O_EXCL|O_APPEND|O_CREAT|O_RDWR"},
	} {
		if got := openFlagNames(tt.flags); got != tt.want {
			t.Errorf("openFlagNames(%#o) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}
