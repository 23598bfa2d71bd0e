package runtime

import (
	"math"
	"strconv"

	"github.com/peregrine-sec/peregrine/bpf"
)

// Falco names the arguments of each syscall event; rules read them as
// evt.arg.NAME in their textual form (user names for uids, flag names for
// modes and requests). argSpec says where each comes from.
type argSpec struct {
	name  string
	from  int // index into Record.Nums; path1 and path2 for the paths
	fmt   func(int64, *Table) string
	dirfd int // for paths: 1 + the index of the dirfd they are relative to (0: the working directory)
	fd    bool
}

// arg is an argument read from Record.Nums (or a string, with fmt nil).
func arg(name string, from int, fmt func(int64, *Table) string) argSpec {
	return argSpec{name: name, from: from, fmt: fmt}
}

// at is a path argument relative to the directory fd in argument dirfd.
func at(name string, from, dirfd int) argSpec {
	return argSpec{name: name, from: from, dirfd: dirfd + 1}
}

const (
	path1  = -1 // the first path, resolved against the working directory
	path2  = -2 // the second path, resolved
	raw1   = -3 // the first string as the caller gave it (not a path)
	raw3   = -4 // the third string as given
	fdName = -5 // the name of the event's fd (a socket's tuple)
	ret    = -6 // the return value (the new fd of accept)
)

// fdArg is a descriptor argument: libsinsp shows it as the descriptor it
// names when the event's fd is that one ("<f>/etc/passwd", "<4t>1.2.3.4:5->6.7.8.9:10").
func fdArg(name string, from int) argSpec {
	return argSpec{name: name, from: from, fmt: decimal, fd: true}
}

func decimal(v int64, _ *Table) string { return strconv.FormatInt(v, 10) }
func oct(v int64, _ *Table) string     { return "0" + strconv.FormatInt(v, 8) }
func uidName(v int64, t *Table) string {
	if e, ok := t.users.lookup(uint32(v)); ok {
		return e
	}
	return decimal(v, t)
}
func gidName(v int64, t *Table) string {
	t.users.once.Do(t.users.load)
	if g, ok := t.users.groups[uint32(v)]; ok {
		return g
	}
	return decimal(v, t)
}

var genericArgs = map[string][]argSpec{
	"setuid":       {arg("uid", 0, uidName)},
	"setgid":       {arg("gid", 0, gidName)},
	"setresuid":    {arg("ruid", 0, uidName), arg("euid", 1, uidName), arg("suid", 2, uidName)},
	"setresgid":    {arg("rgid", 0, gidName), arg("egid", 1, gidName), arg("sgid", 2, gidName)},
	"unlink":       {arg("path", path1, nil)},
	"unlinkat":     {arg("dirfd", 0, decimal), at("name", path1, 0), arg("flags", 2, decimal)},
	"rename":       {arg("oldpath", path1, nil), arg("newpath", path2, nil)},
	"renameat":     {arg("olddirfd", 0, decimal), at("oldpath", path1, 0), arg("newdirfd", 2, decimal), at("newpath", path2, 2)},
	"renameat2":    {arg("olddirfd", 0, decimal), at("oldpath", path1, 0), arg("newdirfd", 2, decimal), at("newpath", path2, 2), arg("flags", 4, decimal)},
	"mkdir":        {arg("path", path1, nil), arg("mode", 1, oct)},
	"mkdirat":      {arg("dirfd", 0, decimal), at("path", path1, 0), arg("mode", 2, oct)},
	"rmdir":        {arg("path", path1, nil)},
	"symlink":      {arg("target", path1, nil), arg("linkpath", path2, nil)},
	"symlinkat":    {arg("target", path1, nil), arg("linkdirfd", 1, decimal), at("linkpath", path2, 1)},
	"link":         {arg("oldpath", path1, nil), arg("newpath", path2, nil)},
	"linkat":       {arg("olddir", 0, decimal), at("oldpath", path1, 0), arg("newdir", 2, decimal), at("newpath", path2, 2)},
	"chmod":        {arg("filename", path1, nil), arg("mode", 1, modeFlags)},
	"fchmodat":     {arg("dirfd", 0, decimal), at("filename", path1, 0), arg("mode", 2, modeFlags)},
	"fchmod":       {fdArg("fd", 0), arg("mode", 1, modeFlags)},
	"ptrace":       {arg("request", 0, named(ptraceRequests)), arg("pid", 1, decimal)},
	"memfd_create": {arg("name", path1, nil), arg("flags", 1, decimal)},
	"bpf":          {arg("cmd", 0, named(bpfCmds))},
	"socket":       {arg("domain", 0, named(families)), arg("type", 1, decimal), arg("proto", 2, decimal)},
	"unshare":      {arg("flags", 0, cloneFlags)},
	"setns":        {fdArg("fd", 0), arg("nstype", 1, cloneFlags)},
	"listen":       {arg("fd", 0, decimal), arg("backlog", 1, decimal)},
	"dup":          {arg("oldfd", 0, decimal)},
	"dup2":         {arg("oldfd", 0, decimal), arg("newfd", 1, decimal)},
	"dup3":         {arg("oldfd", 0, decimal), arg("newfd", 1, decimal), arg("flags", 2, decimal)},
	"mount":        {arg("dev", raw1, nil), arg("dir", path2, nil), arg("type", raw3, nil), arg("flags", 3, decimal)},
	"umount2":      {arg("name", path1, nil), arg("flags", 1, decimal)},
	"init_module":  {arg("length", 1, decimal)},
	"finit_module": {fdArg("fd", 0), arg("flags", 2, decimal)},
	"connect":      {arg("fd", 0, decimal), arg("tuple", fdName, nil)},
	"accept":       {arg("fd", ret, nil), arg("tuple", fdName, nil)},
	"accept4":      {arg("fd", ret, nil), arg("tuple", fdName, nil), arg("flags", 3, decimal)},
	"bind":         {arg("fd", 0, decimal), arg("addr", fdName, nil)},
	"sendto":       {arg("fd", 0, decimal), arg("tuple", fdName, nil)},
	"sendmsg":      {arg("fd", 0, decimal), arg("tuple", fdName, nil)},
	"chdir":        {arg("path", path1, nil)},
	"fchdir":       {fdArg("fd", 0)},
}

// genericSyscall is what a generic record's number stands for.
type genericSyscall struct {
	name string
	typ  Type
	args []argSpec
}

// genericByNumber resolves record numbers once, at start, so that a record
// costs an index rather than three map lookups by name.
var genericByNumber = func() []genericSyscall {
	var out []genericSyscall
	for name, nr := range bpf.Numbers {
		if int(nr) >= len(out) {
			out = append(out, make([]genericSyscall, int(nr)+1-len(out))...)
		}
		out[nr] = genericSyscall{name: name, typ: typeOf(name), args: genericArgs[name]}
	}
	return out
}()

// applyGeneric fills ev from a syscall record.
func (t *Table) applyGeneric(rec *bpf.Record, ev *Event) {
	var sc genericSyscall
	if int(rec.Syscall) < len(genericByNumber) {
		sc = genericByNumber[rec.Syscall]
	}
	ev.Type, ev.Thread = sc.typ, t.Get(rec.Pid)
	t.applyFD(sc.name, rec, ev)
	for _, a := range sc.args {
		ev.Args = append(ev.Args, Arg{Name: a.name, Value: t.argText(a, rec, ev)})
	}
	ev.Args = append(ev.Args, Arg{Name: "res", Value: strconv.FormatInt(rec.Ret, 10)})
	if rec.Ret != 0 || ev.Thread == nil {
		return
	}
	switch sc.name {
	case "chdir":
		ev.Thread.Cwd = t.absolute(ev.Thread, bpf.String(rec.Path[:]))
	case "fchdir":
		ev.Thread.Cwd = "" // read again from /proc when next needed
	default:
		t.setCreds(sc.name, rec.Nums[:], ev.Thread)
	}
}

// dirfdOf is the directory a path argument is relative to.
func (a argSpec) dirfdOf(rec *bpf.Record) int64 {
	if a.dirfd == 0 {
		return atFDCWD
	}
	return int64(int32(rec.Nums[a.dirfd-1]))
}

// argText is the textual value of one argument.
func (t *Table) argText(a argSpec, rec *bpf.Record, ev *Event) string {
	switch a.from {
	case path1:
		return t.resolveAt(ev.Thread, a.dirfdOf(rec), bpf.String(rec.Path[:]))
	case path2:
		return t.resolveAt(ev.Thread, a.dirfdOf(rec), bpf.String(rec.Args[:256]))
	case raw1:
		return bpf.String(rec.Path[:])
	case raw3:
		return bpf.String(rec.Args[256:])
	case fdName:
		if ev.FD == nil {
			return ""
		}
		return ev.FD.Name
	case ret:
		return strconv.FormatInt(rec.Ret, 10)
	}
	if a.fd && ev.FD != nil && ev.FD.Num == rec.Nums[a.from] {
		return fdText(ev.FD)
	}
	return a.fmt(rec.Nums[a.from], t)
}

// fdText is a descriptor as libsinsp resolves it: its type character, the
// protocol's for an IP socket, and its name.
func fdText(d *FD) string {
	kind := []byte{'<', d.TypeChar}
	if d.TypeChar == '4' || d.TypeChar == '6' {
		switch d.L4Proto {
		case 6:
			kind = append(kind, 't')
		case 17:
			kind = append(kind, 'u')
		case 1, 58:
			kind = append(kind, 'i')
		case 255:
			kind = append(kind, 'r')
		}
	}
	return string(append(kind, '>')) + d.Name
}

// setCreds applies a successful set*id call to the thread. Falco updates the
// thread before the rules see the exit event, so user.* on a setuid event is
// already the new user; -1 in the setres* calls leaves an id unchanged.
func (t *Table) setCreds(name string, nums []int64, th *Thread) {
	id := nums[0]
	if name == "setresuid" || name == "setresgid" {
		id = nums[1] // the effective id: the one permission checks use
	}
	if uint32(id) == math.MaxUint32 {
		return
	}
	switch name {
	case "setuid", "setresuid":
		th.UID, th.User, th.HomeDir, th.Shell = uint32(id), "", "", ""
	case "setgid", "setresgid":
		th.GID = uint32(id)
	default:
		return
	}
	t.users.fill(th)
}
