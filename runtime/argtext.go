package runtime

import (
	"slices"
	"strings"
)

// The text of syscall arguments as Falco prints them (evt.arg.NAME): flag
// names joined with '|', symbolic names for requests and families.

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

// named renders a value by its name in m, or as a number.
func named(m map[int64]string) func(int64, *Table) string {
	return func(v int64, t *Table) string {
		if n, ok := m[v]; ok {
			return n
		}
		return decimal(v, t)
	}
}

func modeFlags(v int64, _ *Table) string { return flagNames(v, modeBits) }

func cloneFlags(v int64, _ *Table) string { return flagNames(v, cloneBits) }

// openBits are in the order of libscap's file_flags table, which is the
// order Falco prints them in; the access mode goes after O_CREAT, where
// the table has it. Flags the table lacks come last.
var openBits = []flagName{{0o100000, "O_LARGEFILE"}, {0o200000, "O_DIRECTORY"}, {0o40000, "O_DIRECT"},
	{0o1000, "O_TRUNC"}, {0o4010000, "O_SYNC"}, {0o4000, "O_NONBLOCK"}, {0o200, "O_EXCL"}, {0o10000, "O_DSYNC"},
	{0o2000, "O_APPEND"}, {0o100, "O_CREAT"}}

var openLaterBits = []flagName{{0o2000000, "O_CLOEXEC"}, {0o20200000, "O_TMPFILE"}, {0o400000, "O_NOFOLLOW"},
	{0o10000000, "O_PATH"}, {0o400, "O_NOCTTY"}}

// modeBits are in the order of libscap's chmod_mode table, which is the
// order Falco prints them in: others' bits first, S_ISUID last.
var modeBits = []flagName{{0o1, "S_IXOTH"}, {0o2, "S_IWOTH"}, {0o4, "S_IROTH"}, {0o10, "S_IXGRP"}, {0o20, "S_IWGRP"},
	{0o40, "S_IRGRP"}, {0o100, "S_IXUSR"}, {0o200, "S_IWUSR"}, {0o400, "S_IRUSR"}, {0o1000, "S_ISVTX"},
	{0o2000, "S_ISGID"}, {0o4000, "S_ISUID"}}

var cloneBits = []flagName{{0x00020000, "CLONE_NEWNS"}, {0x02000000, "CLONE_NEWCGROUP"}, {0x04000000, "CLONE_NEWUTS"},
	{0x08000000, "CLONE_NEWIPC"}, {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},
	{0x40000000, "CLONE_NEWNET"}, {0x00000080, "CLONE_NEWTIME"}}

var ptraceRequests = map[int64]string{0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 4: "PTRACE_POKETEXT",
	5: "PTRACE_POKEDATA", 7: "PTRACE_CONT", 8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS",
	13: "PTRACE_SETREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT"}

var bpfCmds = map[int64]string{0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 5: "BPF_PROG_LOAD",
	8: "BPF_PROG_ATTACH", 28: "BPF_LINK_CREATE"}

var families = map[int64]string{1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}

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

// openFlagNames renders open(2) flags as Falco does: by name, in
// libscap's order, the access mode among them, joined with '|'.
func openFlagNames(v int64) string {
	names := []string{[...]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_RDWR"}[v&oAccMode]}
	if before := flagNames(v, openBits); before != "" {
		names = append([]string{before}, names...)
	}
	if after := flagNames(v, openLaterBits); after != "" {
		names = append(names, after)
	}
	return strings.Join(names, "|")
}

// capabilityNames are Linux's capabilities by number, as libsinsp names
// them.
var capabilityNames = [...]string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}

// capsText renders a capability set as thread.cap_* show it: the names of
// its capabilities in their order, separated by spaces ("" for none).
// Bits past the last capability libsinsp knows are not shown.
func capsText(v int64) string {
	var out []string
	for i, name := range capabilityNames {
		if v&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return strings.Join(out, " ")
}

// capsMask is the capability set capsText rendered, for a capture file.
func capsMask(text string) uint64 {
	var mask uint64
	for _, name := range strings.Fields(text) {
		if i := slices.Index(capabilityNames[:], name); i >= 0 {
			mask |= 1 << i
		}
	}
	return mask
}
