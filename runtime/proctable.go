package runtime

import (
	"sync"
	"time"

	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/peregrine-sec/peregrine/session"
)

// Table is the process table: every live process's Thread, rebuilt from
// /proc at start and kept current by exec, fork and exit events. Threads
// point to their parents, so ancestors (proc.aname[N]) are a walk.
//
// A Table is not safe for concurrent use: its owner serialises every call
// (the agent's loop holds its lock around each event and each release of
// held alerts), and the Threads it returns are valid until the next call.
type Table struct {
	procfs     string
	procs      map[uint32]*Thread
	containers map[string]*Container // by full id: one object per container
	byCgroup   map[uint64]*Container // by cgroup v2 id; nil values: the host
	users      userDB
	boot       int64 // wall clock minus boot clock: kernel stamps are boot time
	// cgroupMount is where the cgroup v2 hierarchy is, found once.
	cgroupMount string
	cgroupOnce  sync.Once
	// Env reads the environment of processes found in /proc (exec
	// records carry their own when the probe captures it).
	Env bool
	// Sessions, when set, binds processes started by kubectl exec to the
	// sessions the server announces (k8s.exec.*).
	Sessions *session.Registry
	// Pods, when set, describes containers (container.name, image, k8s.pod.*).
	Pods Pods
	// Texts of recurring argument values, so that building evt.arg.* for
	// every open does not allocate.
	openFlagText, decimals textCache
	capsText               textCache
}

// NewTable returns an empty table reading procfs (usually /proc).
func NewTable(procfs string) *Table {
	return &Table{procfs: procfs, procs: map[uint32]*Thread{}, containers: map[string]*Container{},
		byCgroup: map[uint64]*Container{}, boot: bootOffset(),
		openFlagText: newTextCache(openFlagNames), capsText: newTextCache(capsText), decimals: newTextCache(func(v int64) string { return strconv.FormatInt(v, 10) })}
}

// Scan loads every process from /proc.
func (t *Table) Scan() error {
	ents, err := os.ReadDir(t.procfs)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if pid, err := strconv.ParseUint(e.Name(), 10, 32); err == nil {
			t.Get(uint32(pid))
		}
	}
	return nil
}

// Len is the number of processes known.
func (t *Table) Len() int { return len(t.procs) }

// Get returns the process, reading it from /proc when unknown; nil when
// it is gone.
func (t *Table) Get(pid uint32) *Thread {
	if th, ok := t.procs[pid]; ok {
		return th
	}
	th := t.read(pid)
	if th != nil {
		t.procs[pid] = th
		if ppid := uint32(th.ppid); ppid != 0 && ppid != pid {
			th.Parent = t.Get(ppid)
		}
		th.Init()
	}
	return th
}

// read builds a Thread from /proc/PID.
func (t *Table) read(pid uint32) *Thread {
	p := strconv.FormatUint(uint64(pid), 10)
	dir := filepath.Join(t.procfs, p)
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil
	}
	th := &Thread{Pid: int64(pid), Tid: int64(pid), LoginUID: -1}
	readStatus(th, string(status))
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmd) > 0 {
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		th.Exe, th.Args = args[0], args[1:]
	}
	if t.Env {
		if env, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil && len(env) > 0 {
			th.Env = strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
		}
	}
	readFiles(th, dir)
	th.pidNS = nsInode(filepath.Join(dir, "ns", "pid"))
	t.readStat(th, dir)
	th.Container = t.container(cgroupPath(t.procfs, p))
	t.users.fill(th)
	return th
}

// readStatus takes the name, parent, ids, namespace pids and capabilities from
// /proc/PID/status.
func readStatus(th *Thread, status string) {
	for _, line := range strings.Split(status, "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "Name" && len(f) > 0:
			th.Name = f[0]
		case k == "PPid" && len(f) > 0:
			th.ppid, _ = strconv.ParseInt(f[0], 10, 64)
		case k == "Uid" && len(f) > 1:
			uid, _ := strconv.ParseUint(f[1], 10, 32)
			th.UID = uint32(uid)
		case k == "Gid" && len(f) > 1:
			gid, _ := strconv.ParseUint(f[1], 10, 32)
			th.GID = uint32(gid)
		case k == "NSpid" && len(f) > 0:
			th.Vpid, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		case k == "NSpgid" && len(f) > 0:
			th.Vpgid, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		case (k == "CapEff" || k == "CapPrm") && len(f) > 0:
			caps, _ := strconv.ParseUint(f[0], 16, 64)
			if k == "CapEff" {
				th.CapEffective = capsText(int64(caps))
			} else {
				th.CapPermitted = capsText(int64(caps))
			}
		}
	}
}

// readFiles takes the executable (path, inode, times), the working
// directory and the login uid from the links and files of /proc/PID.
func readFiles(th *Thread, dir string) {
	th.ExePath, _ = os.Readlink(filepath.Join(dir, "exe"))
	var st unix.Stat_t
	if unix.Stat(filepath.Join(dir, "exe"), &st) == nil {
		th.ExeIno, th.ExeCtime, th.ExeMtime = st.Ino, st.Ctim.Nano(), st.Mtim.Nano()
	}
	th.Cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 32); err == nil && v != 4294967295 {
			th.LoginUID = int64(v)
		}
	}
}

// readStat reads the session, the terminal and the start time from
// /proc/PID/stat (fields 6, 7 and 22, after the parenthesised name).
func (t *Table) readStat(th *Thread, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return
	}
	th.Sid, _ = strconv.ParseInt(f[3], 10, 64)
	tty, _ := strconv.ParseUint(f[4], 10, 32)
	th.Tty = uint32(tty)
	ticks, _ := strconv.ParseInt(f[19], 10, 64)
	th.Start = ticks*(1e9/clockTicks) + t.boot
}

// clockTicks is USER_HZ, the unit of /proc start times: 100 on every Linux
// architecture Peregrine runs on.
const clockTicks = 100

func (t *Table) container(cgroup string) *Container {
	c := containerFromCgroup(cgroup)
	if c == nil {
		return nil
	}
	if known, ok := t.containers[c.FullID]; ok {
		return known
	}
	t.cgroupOnce.Do(func() { t.cgroupMount = cgroup2Mount(t.procfs) })
	c.StartTs = startTime(t.cgroupMount, cgroup)
	t.containers[c.FullID] = c
	return c
}

// fork records a new process: a copy of its parent until it execs.
func (t *Table) fork(parent, child uint32) *Thread {
	p := t.Get(parent)
	if p == nil {
		return t.Get(child)
	}
	c := *p
	c.Pid, c.Tid, c.ppid, c.Parent = int64(child), int64(child), int64(parent), p
	c.subreaper = false                   // prctl's flag is not inherited
	c.sharedFDs, p.sharedFDs = true, true // the child inherits the descriptors
	c.Init()
	t.procs[child] = &c
	return &c
}

// Exit forgets a process. Its Thread stays valid for children pointing to
// it, which from now on have its reaper as their parent, as the kernel
// reparents orphans and libsinsp follows.
func (t *Table) Exit(pid uint32) {
	if th := t.procs[pid]; th != nil {
		th.exited, th.reaper = true, t.reaperOf(th)
	}
	delete(t.procs, pid)
}

// reaperOf is the process that adopts th's children when th exits, as the
// kernel finds it: the nearest ancestor in th's pid namespace that is a
// subreaper (containerd-shim, systemd --user) or the namespace's init; on
// the host, its init (pid 1) when no ancestor is either.
func (t *Table) reaperOf(th *Thread) *Thread {
	for a := th.parent(); a != nil && a.pidNS == th.pidNS; a = a.parent() {
		if (a.subreaper && !a.exited) || a.Vpid == 1 {
			return a
		}
	}
	if init := t.procs[1]; init != th && th.Vpid == th.Pid {
		return init
	}
	return nil
}

// nsInode is the inode number of a namespace link ("pid:[4026531836]"),
// 0 when it cannot be read.
func nsInode(link string) uint32 {
	target, err := os.Readlink(link)
	if err != nil {
		return 0
	}
	_, num, _ := strings.Cut(strings.TrimSuffix(target, "]"), "[")
	n, _ := strconv.ParseUint(num, 10, 32)
	return uint32(n)
}

func readlink(procfs string, pid int64, name string) (string, error) {
	return os.Readlink(filepath.Join(procfs, strconv.FormatInt(pid, 10), name))
}

// containerOf resolves the container of a process from the cgroup id the
// kernel reported, reading /proc/PID/cgroup the first time an id is seen:
// a process may have moved between cgroups since it was forked.
func (t *Table) containerOf(cgroupID uint64, pid uint32) *Container {
	if c, ok := t.byCgroup[cgroupID]; ok {
		return c
	}
	path := cgroupPath(t.procfs, strconv.FormatUint(uint64(pid), 10))
	if path == "" {
		return nil // the process is gone: do not cache a guess
	}
	c := t.container(path)
	t.byCgroup[cgroupID] = c
	return c
}

// bootOffset converts the kernel's boot-time stamps to wall-clock time.
func bootOffset() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Now().UnixNano() - ts.Nano()
}
