package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/peregrine-sec/peregrine/bpf"
	"golang.org/x/sys/unix"
)

// Linux open flags (asm-generic).
const (
	oAccMode = 0o3
	oWronly  = 0o1
	oRdwr    = 0o2
	oCreat   = 0o100
)

var openTypeOf = map[uint32]Type{
	bpf.SysOpen: typeOf("open"), bpf.SysOpenat: typeOf("openat"), bpf.SysOpenat2: typeOf("openat2"),
	bpf.SysCreat: typeOf("creat"),
}

// Executable flags of exec records (EXE_* in capture.bpf.c).
const (
	exeUpperLayer = 1
	exeMemfd      = 2
	exeWritable   = 4
	exeLowerLayer = 8
	exeKernelPath = 16 // Record.ExePath holds the executable's path
	subreaper     = 32 // a process record's: the process is a child subreaper
)

// exeFlagsText is an execve's evt.arg.flags as libsinsp prints it: its
// names in libsinsp's order, or 0.
func exeFlagsText(th *Thread) string {
	var names []string
	for _, f := range []struct {
		set  bool
		name string
	}{{th.ExeWritable, "EXE_WRITABLE"}, {th.ExeUpperLayer, "EXE_UPPER_LAYER"}, {th.ExeMemfd, "EXE_FROM_MEMFD"},
		{th.ExeLowerLayer, "EXE_LOWER_LAYER"}} {
		if f.set {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

var typeExecve, typeExecveat = typeOf("execve"), typeOf("execveat")

// Apply updates the table from a kernel record and fills ev with the event
// the rules see; it reports false for records that only update the table
// (fork, exit).
func (t *Table) Apply(rec *bpf.Record, ev *Event) bool {
	ts := int64(rec.TsNs) + t.boot
	ev.FD, ev.Flags, ev.NameChanged, ev.Args = nil, 0, false, ev.Args[:0]
	switch rec.Kind {
	case bpf.KindFork:
		t.forked(rec, ts)
		return false
	case bpf.KindExit:
		t.Exit(rec.Pid)
		return false
	case bpf.KindExec:
		ev.Thread, ev.Type = t.exec(rec), typeExecve
		if rec.Syscall == bpf.SysExecveat {
			ev.Type = typeExecveat
		}
		ev.Args = append(ev.Args, Arg{"flags", exeFlagsText(ev.Thread)})
	case bpf.KindOpen:
		t.applyOpen(rec, ev)
	case bpf.KindSyscall:
		t.applyGeneric(rec, ev)
	default:
		return false
	}
	ev.Res, ev.Time = rec.Ret, ts
	return ev.Thread != nil
}

// applyOpen fills ev from an open record and remembers the new descriptor.
func (t *Table) applyOpen(rec *bpf.Record, ev *Event) {
	ev.Thread, ev.Type = t.Get(rec.Pid), openTypeOf[rec.Syscall]
	ev.Flags = openFlags(rec.Flags)
	raw := bpf.String(rec.Path[:])
	ev.FD = &FD{Num: -1, TypeChar: 'f', Name: t.resolveAt(ev.Thread, int64(rec.Fd), raw), NameRaw: raw}
	if rec.Ret >= 0 {
		ev.FD.Num = rec.Ret
		ev.Thread.setFD(ev.FD)
	}
	ev.Args = append(ev.Args, Arg{"fd", t.decimals.get(rec.Ret)}, Arg{"name", ev.FD.Name},
		Arg{"flags", t.openFlagText.get(int64(rec.Flags))})
}

// exec replaces the process image of rec.Pid.
func (t *Table) exec(rec *bpf.Record) *Thread {
	old := t.Get(rec.Pid)
	th := &Thread{Pid: int64(rec.Pid), Tid: int64(rec.Tid), LoginUID: int64(int32(rec.Loginuid)), Tty: rec.Tty,
		UID: rec.Uid, GID: rec.Gid, Name: bpf.String(rec.Comm[:]), Vpid: int64(rec.NsPid),
		Sid: int64(rec.Sid), Vpgid: int64(rec.Vpgid), Start: int64(rec.TsNs) + t.boot,
		ExeUpperLayer: rec.ExeFlags&exeUpperLayer != 0, ExeMemfd: rec.ExeFlags&exeMemfd != 0,
		ExeWritable: rec.ExeFlags&exeWritable != 0, ExeLowerLayer: rec.ExeFlags&exeLowerLayer != 0,
		ExeIno: rec.ExeIno, ExeCtime: int64(rec.ExeCtime), ExeMtime: int64(rec.ExeMtime),
		CapEffective: t.capsText.get(int64(rec.CapEffective)), CapPermitted: t.capsText.get(int64(rec.CapPermitted)),
		subreaper: rec.ExeFlags&subreaper != 0, pidNS: rec.Pidns}
	n := min(int(rec.ArgsLen), len(rec.Args))
	args := strings.Split(strings.TrimRight(string(bpf.Bytes(rec.Args[:n])), "\x00"), "\x00")
	if len(args) > 0 && args[0] != "" {
		th.Exe, th.Args = args[0], args[1:]
	}
	if n := min(int(rec.EnvLen), len(rec.Env)); n > 0 {
		th.Env = strings.Split(strings.TrimRight(string(bpf.Bytes(rec.Env[:n])), "\x00"), "\x00")
	}
	if old != nil {
		th.Cwd, th.Start, th.Exec = old.Cwd, old.Start, old.Exec
		th.fds, th.sharedFDs, old.sharedFDs = old.fds, true, true
	}
	th.Parent = t.parentOf(old, rec.Ppid)
	th.Container = t.containerOf(rec.CgroupId, rec.Pid)
	if th.Container == nil && old != nil && rec.CgroupId == 0 {
		th.Container = old.Container
	}
	th.ExePath = t.exePath(old, rec, th.Container == nil)
	describe(th.Container, t.Pods)
	if t.Sessions != nil && (th.Container != nil || th.Exec != nil) {
		cid := ""
		if th.Container != nil {
			cid = th.Container.FullID
		}
		th.Exec = t.Sessions.OnExec(cid, append([]string{th.Exe}, th.Args...), initTree(th), th.Exec)
	}
	t.users.fill(th)
	th.Init()
	t.procs[rec.Pid] = th
	return th
}

// forked applies a fork record: rec.Pid forked rec.Ppid, whose parent the
// kernel says is rec.Nums[0] (the forker's own parent with CLONE_PARENT)
// and whose pid in its namespace is rec.Nums[1]. The record also says
// whether the forker is a subreaper now.
func (t *Table) forked(rec *bpf.Record, ts int64) {
	if p := t.procs[rec.Pid]; p != nil {
		p.subreaper = rec.ExeFlags&subreaper != 0
	}
	th := t.fork(rec.Pid, rec.Ppid)
	if th == nil {
		return
	}
	th.Start, th.Vpid = ts, rec.Nums[1]
	if real := uint32(rec.Nums[0]); real != 0 && real != rec.Pid {
		th.Parent = t.Get(real)
	}
}

// parentOf is the parent of a process that execs: the one that forked it
// (or the reaper that adopted it since), unless the kernel names another:
// a child cloned with CLONE_PARENT (runc's container processes), or one
// adopted by a subreaper this table does not know of.
func (t *Table) parentOf(old *Thread, ppid uint32) *Thread {
	if old != nil {
		if p := old.parent(); ppid == 0 || (p != nil && p.Pid == int64(ppid)) {
			return old.Parent
		}
	}
	return t.Get(ppid)
}

// exePath is the executable's canonical path, as libsinsp has it from the
// kernel (a program run through a symlink, /usr/bin/sh, is /usr/bin/dash;
// a script, its interpreter): the path the probe read from the kernel's
// dentries. When the probe could not (a path too deep or too long), the
// same from /proc/PID/exe while it still names the inode the kernel
// reported at the exec. The process may have exited, or exec'd again,
// since; then a host process's path executed, with its symlinks resolved
// here, when that is the inode; else the path executed, made absolute (a
// container's symlinks resolve in its root, not ours). A program run from
// a memfd has the name the probe gave it (memfd:NAME), as Falco shows it.
func (t *Table) exePath(old *Thread, rec *bpf.Record, host bool) string {
	executed := bpf.String(rec.Path[:])
	if rec.ExeFlags&exeMemfd != 0 {
		return executed
	}
	if off := int(rec.ExePathOff); rec.ExeFlags&exeKernelPath != 0 && off < len(rec.ExePath) {
		return bpf.String(rec.ExePath[off:]) // it ends at the middle of the buffer
	}
	link := filepath.Join(t.procfs, strconv.FormatInt(int64(rec.Pid), 10), "exe")
	if p, err := os.Readlink(link); err == nil && p != "" && isInode(link, rec.ExeIno) {
		return p
	}
	abs := t.absolute(old, executed)
	if host {
		if p, err := filepath.EvalSymlinks(abs); err == nil && isInode(p, rec.ExeIno) {
			return p
		}
	}
	return abs
}

// isInode reports whether path leads to inode ino.
func isInode(path string, ino uint64) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && st.Ino == ino
}

// initTree reports whether th is its container's init or descends from it:
// such processes are the container's own, never an exec session's (those
// the runtime starts from outside, below the shim).
func initTree(th *Thread) bool {
	for a := th; a != nil; a = a.parent() {
		if a.Container == th.Container && a.Vpid == 1 {
			return true
		}
	}
	return false
}

// absolute resolves a relative path against the process's working
// directory, as fd.name shows it.
func (t *Table) absolute(th *Thread, p string) string {
	if strings.HasPrefix(p, "/") {
		return filepath.Clean(p) // . and .. resolved, as fd.name shows them (fd.nameraw keeps p)
	}
	if p == "" || th == nil {
		return p
	}
	if th.Cwd == "" {
		th.Cwd, _ = readlink(t.procfs, th.Pid, "cwd")
	}
	return filepath.Join(th.Cwd, p)
}

func openFlags(f uint32) uint32 {
	var out uint32
	switch f & oAccMode {
	case oWronly:
		out = OpenWrite
	case oRdwr:
		out = OpenRead | OpenWrite
	default:
		out = OpenRead
	}
	if f&oCreat != 0 {
		out |= OpenCreat
	}
	return out
}
