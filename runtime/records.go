package runtime

import (
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/peregrine-sec/peregrine/bpf"
)

// Linux open flags (asm-generic).
const (
	oAccMode = 0o3
	oWronly  = 0o1
	oRdwr    = 0o2
	oCreat   = 0o100
)

var sysTypes = map[uint32]Type{
	bpf.SysOpen: TypeOf("open"), bpf.SysOpenat: TypeOf("openat"), bpf.SysOpenat2: TypeOf("openat2"),
	bpf.SysCreat: TypeOf("creat"), bpf.SysConnect: TypeOf("connect"),
}

// Apply updates the table from a kernel record and fills ev with the event
// the rules see; it reports false for records that only update the table
// (fork, exit). ev's FD is reused across calls.
func (t *Table) Apply(rec *bpf.Record, ev *Event) bool {
	switch rec.Kind {
	case bpf.KindFork:
		t.Fork(rec.Pid, rec.Ppid)
		return false
	case bpf.KindExit:
		t.Exit(rec.Pid)
		return false
	case bpf.KindExec:
		ev.Thread, ev.Type, ev.FD, ev.Flags, ev.Args = t.exec(rec), TypeOf("execve"), nil, 0, ev.Args[:0]
	case bpf.KindOpen:
		ev.Thread, ev.Type, ev.Args = t.Get(rec.Pid), sysTypes[rec.Syscall], ev.Args[:0]
		ev.Flags = openFlags(rec.Flags)
		ev.FD = &FD{Num: -1, TypeChar: 'f', Name: t.absolute(ev.Thread, bpf.String(rec.Path[:]))}
		if rec.Ret >= 0 {
			ev.FD.Num = rec.Ret
		}
		ev.Args = append(ev.Args, Arg{"fd", t.decimals.get(rec.Ret)}, Arg{"name", ev.FD.Name},
			Arg{"flags", t.openFlagText.get(int64(rec.Flags))})
	case bpf.KindConnect:
		ev.Thread, ev.Type, ev.Flags, ev.Args = t.Get(rec.Pid), TypeOf("connect"), 0, ev.Args[:0]
		ev.FD = connectFD(rec)
	case bpf.KindGeneric:
		t.applyGeneric(rec, ev)
	default:
		return false
	}
	ev.Res, ev.Time = rec.Ret, int64(rec.TsNs)
	return ev.Thread != nil
}

// exec replaces the process image of rec.Pid.
func (t *Table) exec(rec *bpf.Record) *Thread {
	old := t.Get(rec.Pid)
	th := &Thread{Pid: int64(rec.Pid), Tid: int64(rec.Tid), LoginUID: int64(int32(rec.Loginuid)), Tty: rec.Tty,
		UID: rec.Uid, GID: rec.Gid, Name: bpf.String(rec.Comm[:]), ExePath: bpf.String(rec.Path[:]), Vpid: int64(rec.NsPid)}
	n := min(int(rec.ArgsLen), len(rec.Args))
	args := strings.Split(strings.TrimRight(string(bpf.Bytes(rec.Args[:n])), "\x00"), "\x00")
	if len(args) > 0 && args[0] != "" {
		th.Exe, th.Args = args[0], args[1:]
	}
	if old != nil {
		th.Parent, th.Cwd, th.Env = old.Parent, old.Cwd, old.Env
	} else {
		th.Parent = t.Get(rec.Ppid)
	}
	th.Container = t.containerOf(rec.CgroupId, rec.Pid)
	if th.Container == nil && old != nil && rec.CgroupId == 0 {
		th.Container = old.Container
	}
	t.users.fill(th)
	th.Init()
	t.procs[rec.Pid] = th
	return th
}

// absolute resolves a relative path against the process's working
// directory, as fd.name shows it.
func (t *Table) absolute(th *Thread, p string) string {
	if p == "" || strings.HasPrefix(p, "/") || th == nil {
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

func connectFD(rec *bpf.Record) *FD {
	fd := &FD{Num: int64(rec.Fd), RemotePort: rec.Port}
	switch rec.Family {
	case 2:
		fd.TypeChar, fd.RemoteIP = '4', netip.AddrFrom4([4]byte(rec.Addr[:4]))
	case 10:
		fd.TypeChar, fd.RemoteIP = '6', netip.AddrFrom16(rec.Addr).Unmap()
	default:
		fd.TypeChar = 'u'
		return fd
	}
	fd.Name = "->" + netip.AddrPortFrom(fd.RemoteIP, fd.RemotePort).String()
	return fd
}
