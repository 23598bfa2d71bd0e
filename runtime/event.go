package runtime

import (
	"net/netip"
	"strings"

	"github.com/peregrine-sec/peregrine/session"
)

// Event is one syscall (its exit, as Falco sees it since enter events were
// dropped) or process lifecycle event.
type Event struct {
	Type   Type
	Num    uint64
	Time   int64 // nanoseconds since the epoch
	Res    int64 // return value: >= 0 success, < 0 -errno
	Flags  uint32
	Thread *Thread
	FD     *FD
	// NameChanged: this event gave its fd a name other than the one it
	// had (a sendto to a new peer), fd.name_changed.
	NameChanged bool
	// Hostname is evt.hostname: the node the event happened on.
	Hostname string
	// Args are the named arguments, as evt.arg.NAME reads them.
	Args []Arg
}

// Arg is a named syscall argument in its textual form.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Open flags (the PPM_O_* values Falco prints and tests).
const (
	OpenRead  uint32 = 1 << 0
	OpenWrite uint32 = 1 << 1
	OpenCreat uint32 = 1 << 2
	OpenExec  uint32 = 1 << 13
)

// Thread is the process state an event belongs to.
type Thread struct {
	Pid, Tid, Vpid, Sid, Vpgid int64
	Start                      int64    // when the process was forked, ns since the epoch
	Name                       string   // comm
	Exe                        string   // argv[0]
	ExePath                    string   // full executable path
	Args                       []string // argv[1:]
	Cwd                        string
	Env                        []string
	Tty                        uint32
	UID, GID                   uint32
	User, Group                string
	HomeDir, Shell             string
	LoginUID                   int64
	LoginUser                  string
	CapEffective, CapPermitted string
	Parent                     *Thread
	Container                  *Container
	// Exec is the exec session this process tree was started by (kubectl
	// exec), shared with every descendant; nil for the container's own
	// processes and the host's.
	Exec                       *session.Slot
	ExeUpperLayer, ExeMemfd    bool
	ExeWritable, ExeLowerLayer bool
	ExeIno                     uint64
	ExeCtime, ExeMtime         int64 // ns since the epoch

	// argsLine, cmdLine and envLine are proc.args, proc.cmdline and
	// proc.env, joined once by Init so that reading them per event does
	// not allocate.
	argsLine, cmdLine, envLine string
	ppid                       int64 // from /proc, to link Parent
	// exited is set when the process has exited; its children then belong
	// to reaper (see parent). A subreaper adopts its descendants' orphans
	// before their pid namespace's init does.
	exited, subreaper bool
	reaper            *Thread
	pidNS             uint32 // the pid namespace's inode number; 0 unknown
	// fds is what the process's syscalls told about its descriptors;
	// shared by a fork until either side changes it (copy on write).
	fds       map[int64]*FD
	sharedFDs bool
}

// Init computes the derived values of a thread; call it after filling the
// fields and before events of the thread are evaluated.
func (t *Thread) Init() *Thread {
	t.argsLine = strings.Join(t.Args, " ")
	t.envLine = strings.Join(t.Env, " ")
	t.cmdLine = t.Name
	if t.argsLine != "" {
		t.cmdLine += " " + t.argsLine
	}
	return t
}

// FD is the file descriptor an event acts on.
type FD struct {
	Num        int64
	TypeChar   byte // f, 4, 6, u, p, ...
	Name       string
	NameRaw    string // the path as the caller gave it, before resolving
	LocalIP    netip.Addr
	RemoteIP   netip.Addr
	LocalPort  uint16
	RemotePort uint16
	IsServer   bool // the local side is the server (accept/listen)
	Connected  bool
	L4Proto    uint8 // IP protocol number of a socket
}

// Container is the container a thread runs in; nil means the host.
type Container struct {
	ID, FullID, Name, Type     string
	Image, ImageRepo, ImageTag string
	Privileged                 bool
	StartTs                    int64 `json:",omitempty"` // ns since the epoch; 0 unknown
	PodName, Namespace, PodUID string
	PodLabels                  map[string]string `json:",omitempty"`
	PodIP                      string            `json:",omitempty"`
	// described: the cluster's view was filled in (see Table.Pods).
	described bool
}

// parent is the process's parent as the kernel has it now: when the
// parent it was forked by has exited, the reaper that adopted it.
func (t *Thread) parent() *Thread {
	p := t.Parent
	for hops := 0; p != nil && p.exited && hops < 64; hops++ {
		p = p.reaper
	}
	return p
}
