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
	name string
	from int // index into Record.Nums; path1 and path2 for the paths
	fmt  func(int64, *Table) string
}

const (
	path1 = -1 // the first path, resolved against the working directory
	path2 = -2 // the second path, resolved
	raw1  = -3 // the first string as the caller gave it (not a path)
)

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
	"setuid":       {{"uid", 0, uidName}},
	"setgid":       {{"gid", 0, gidName}},
	"setresuid":    {{"ruid", 0, uidName}, {"euid", 1, uidName}, {"suid", 2, uidName}},
	"setresgid":    {{"rgid", 0, gidName}, {"egid", 1, gidName}, {"sgid", 2, gidName}},
	"unlink":       {{"path", path1, nil}},
	"unlinkat":     {{"dirfd", 0, decimal}, {"name", path1, nil}, {"flags", 2, decimal}},
	"rename":       {{"oldpath", path1, nil}, {"newpath", path2, nil}},
	"renameat":     {{"olddirfd", 0, decimal}, {"oldpath", path1, nil}, {"newdirfd", 2, decimal}, {"newpath", path2, nil}},
	"renameat2":    {{"olddirfd", 0, decimal}, {"oldpath", path1, nil}, {"newdirfd", 2, decimal}, {"newpath", path2, nil}, {"flags", 4, decimal}},
	"mkdir":        {{"path", path1, nil}, {"mode", 1, oct}},
	"mkdirat":      {{"dirfd", 0, decimal}, {"path", path1, nil}, {"mode", 2, oct}},
	"rmdir":        {{"path", path1, nil}},
	"symlink":      {{"target", path1, nil}, {"linkpath", path2, nil}},
	"symlinkat":    {{"target", path1, nil}, {"linkdirfd", 1, decimal}, {"linkpath", path2, nil}},
	"link":         {{"oldpath", path1, nil}, {"newpath", path2, nil}},
	"linkat":       {{"olddir", 0, decimal}, {"oldpath", path1, nil}, {"newdir", 2, decimal}, {"newpath", path2, nil}},
	"chmod":        {{"filename", path1, nil}, {"mode", 1, modeFlags}},
	"fchmodat":     {{"dirfd", 0, decimal}, {"filename", path1, nil}, {"mode", 2, modeFlags}},
	"fchmod":       {{"fd", 0, decimal}, {"mode", 1, modeFlags}},
	"ptrace":       {{"request", 0, named(ptraceRequests)}, {"pid", 1, decimal}},
	"memfd_create": {{"name", path1, nil}, {"flags", 1, decimal}},
	"bpf":          {{"cmd", 0, named(bpfCmds)}},
	"socket":       {{"domain", 0, named(families)}, {"type", 1, decimal}, {"proto", 2, decimal}},
	"unshare":      {{"flags", 0, cloneFlags}},
	"setns":        {{"fd", 0, decimal}, {"nstype", 1, cloneFlags}},
	"listen":       {{"fd", 0, decimal}, {"backlog", 1, decimal}},
	"dup":          {{"oldfd", 0, decimal}},
	"dup2":         {{"oldfd", 0, decimal}, {"newfd", 1, decimal}},
	"dup3":         {{"oldfd", 0, decimal}, {"newfd", 1, decimal}, {"flags", 2, decimal}},
	"mount":        {{"dev", raw1, nil}, {"dir", path2, nil}, {"flags", 3, decimal}},
	"umount2":      {{"name", path1, nil}, {"flags", 1, decimal}},
	"init_module":  {{"length", 1, decimal}},
	"finit_module": {{"fd", 0, decimal}, {"flags", 2, decimal}},
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
	for name, nr := range bpf.Generic {
		if int(nr) >= len(out) {
			out = append(out, make([]genericSyscall, int(nr)+1-len(out))...)
		}
		out[nr] = genericSyscall{name: name, typ: TypeOf(name), args: genericArgs[name]}
	}
	return out
}()

// applyGeneric fills ev from a generic syscall record.
func (t *Table) applyGeneric(rec *bpf.Record, ev *Event) {
	var sc genericSyscall
	if int(rec.Syscall) < len(genericByNumber) {
		sc = genericByNumber[rec.Syscall]
	}
	ev.Type, ev.Thread, ev.FD, ev.Flags = sc.typ, t.Get(rec.Pid), nil, 0
	ev.Args = ev.Args[:0]
	for _, a := range sc.args {
		var v string
		switch a.from {
		case path1:
			v = t.absolute(ev.Thread, bpf.String(rec.Path[:]))
		case path2:
			v = t.absolute(ev.Thread, bpf.String(rec.Args[:256]))
		case raw1:
			v = bpf.String(rec.Path[:])
		default:
			v = a.fmt(rec.Nums[a.from], t)
		}
		ev.Args = append(ev.Args, Arg{Name: a.name, Value: v})
	}
	ev.Args = append(ev.Args, Arg{Name: "res", Value: strconv.FormatInt(rec.Ret, 10)})
	if rec.Ret == 0 && ev.Thread != nil {
		t.setCreds(sc.name, rec.Nums[:], ev.Thread)
	}
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
