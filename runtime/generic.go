package runtime

import (
	"math"
	"strconv"
	"strings"

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
	"ptrace":       {{"request", 0, ptraceRequest}, {"pid", 1, decimal}},
	"memfd_create": {{"name", path1, nil}, {"flags", 1, decimal}},
	"bpf":          {{"cmd", 0, bpfCmd}},
	"socket":       {{"domain", 0, family}, {"type", 1, decimal}, {"proto", 2, decimal}},
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

var genericNames = func() map[uint32]string {
	m := map[uint32]string{}
	for name, nr := range bpf.Generic {
		m[nr] = name
	}
	return m
}()

// applyGeneric fills ev from a generic syscall record.
func (t *Table) applyGeneric(rec *bpf.Record, ev *Event) {
	name := genericNames[rec.Syscall]
	ev.Type, ev.Thread, ev.FD, ev.Flags = TypeOf(name), t.Get(rec.Pid), nil, 0
	ev.Args = ev.Args[:0]
	for _, a := range genericArgs[name] {
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
		t.setCreds(name, rec.Nums[:], ev.Thread)
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

// flagName names one flag; a flag of several bits is set when all are.
type flagName struct {
	bit  int64
	name string
}

func flagNames(v int64, names []flagName) string {
	var out []string
	for _, n := range names {
		if v&n.bit == n.bit && n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, "|")
}

func modeFlags(v int64, _ *Table) string {
	return flagNames(v, []flagName{{0o4000, "S_ISUID"}, {0o2000, "S_ISGID"}, {0o1000, "S_ISVTX"}, {0o400, "S_IRUSR"}, {0o200, "S_IWUSR"},
		{0o100, "S_IXUSR"}, {0o40, "S_IRGRP"}, {0o20, "S_IWGRP"}, {0o10, "S_IXGRP"}, {0o4, "S_IROTH"},
		{0o2, "S_IWOTH"}, {0o1, "S_IXOTH"}})
}

func cloneFlags(v int64, _ *Table) string {
	return flagNames(v, []flagName{{0x00020000, "CLONE_NEWNS"}, {0x02000000, "CLONE_NEWCGROUP"}, {0x04000000, "CLONE_NEWUTS"},
		{0x08000000, "CLONE_NEWIPC"}, {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},
		{0x40000000, "CLONE_NEWNET"}, {0x00000080, "CLONE_NEWTIME"}})
}

var ptraceRequests = map[int64]string{0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 4: "PTRACE_POKETEXT",
	5: "PTRACE_POKEDATA", 7: "PTRACE_CONT", 8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS",
	13: "PTRACE_SETREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT"}

func ptraceRequest(v int64, t *Table) string {
	if n, ok := ptraceRequests[v]; ok {
		return n
	}
	return decimal(v, t)
}

var bpfCmds = map[int64]string{0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 5: "BPF_PROG_LOAD",
	8: "BPF_PROG_ATTACH", 28: "BPF_LINK_CREATE"}

func bpfCmd(v int64, t *Table) string {
	if n, ok := bpfCmds[v]; ok {
		return n
	}
	return decimal(v, t)
}

var families = map[int64]string{1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}

func family(v int64, t *Table) string {
	if n, ok := families[v]; ok {
		return n
	}
	return decimal(v, t)
}

// textCache memoises the text of small, recurring values. It is bounded:
// past its size, texts are computed each time rather than kept.
type textCache struct {
	fn func(int64) string
	m  map[int64]string
}

const textCacheSize = 4096

func newTextCache(fn func(int64) string) textCache {
	return textCache{fn: fn, m: map[int64]string{}}
}

func (c textCache) get(v int64) string {
	if s, ok := c.m[v]; ok {
		return s
	}
	s := c.fn(v)
	if len(c.m) < textCacheSize {
		c.m[v] = s
	}
	return s
}

// openFlagNames renders open(2) flags as Falco does: the access mode, then
// the other flags by name, joined with '|'.
func openFlagNames(v int64) string {
	acc := [...]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_RDWR"}[v&oAccMode]
	rest := flagNames(v, []flagName{{0o100, "O_CREAT"}, {0o200, "O_EXCL"}, {0o400, "O_NOCTTY"}, {0o1000, "O_TRUNC"}, {0o2000, "O_APPEND"},
		{0o4000, "O_NONBLOCK"}, {0o10000, "O_DSYNC"}, {0o40000, "O_DIRECT"}, {0o100000, "O_LARGEFILE"},
		{0o200000, "O_DIRECTORY"}, {0o400000, "O_NOFOLLOW"}, {0o2000000, "O_CLOEXEC"}, {0o4010000, "O_SYNC"},
		{0o20200000, "O_TMPFILE"}, {0o10000000, "O_PATH"}})
	if rest == "" {
		return acc
	}
	return acc + "|" + rest
}
