package runtime

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/session"
)

// accessors read the syscall fields that take no argument.
var accessors = map[string]acc{
	"evt.type":                str(func(e *Event) (string, bool) { return e.Type.String(), true }),
	"evt.num":                 num(func(e *Event) (int64, bool) { return int64(e.Num), true }),
	"evt.rawtime":             num(func(e *Event) (int64, bool) { return e.Time, true }),
	"evt.rawres":              num(func(e *Event) (int64, bool) { return e.Res, true }),
	"evt.failed":              num(func(e *Event) (int64, bool) { return b2i(e.Res < 0), true }),
	"evt.res":                 str(func(e *Event) (string, bool) { return resString(e.Res), true }),
	"evt.dir":                 str(func(*Event) (string, bool) { return "<", true }),
	"evt.is_open_read":        num(func(e *Event) (int64, bool) { return b2i(e.Flags&OpenRead != 0), isOpen(e) }),
	"evt.is_open_write":       num(func(e *Event) (int64, bool) { return b2i(e.Flags&OpenWrite != 0), isOpen(e) }),
	"evt.is_open_exec":        num(func(e *Event) (int64, bool) { return b2i(e.Flags&OpenExec != 0), isOpen(e) }),
	"proc.name":               threadStr(func(t *Thread) string { return t.Name }),
	"proc.exe":                threadStr(func(t *Thread) string { return t.Exe }),
	"proc.exepath":            threadStr(func(t *Thread) string { return t.ExePath }),
	"proc.cmdline":            threadStr(func(t *Thread) string { return t.cmdLine }),
	"proc.cwd":                threadStr(func(t *Thread) string { return dirSlash(t.Cwd) }),
	"proc.pid":                threadNum(func(t *Thread) int64 { return t.Pid }),
	"proc.vpid":               threadNum(func(t *Thread) int64 { return t.Vpid }),
	"proc.sid":                threadNum(func(t *Thread) int64 { return t.Sid }),
	"proc.vpgid":              threadNum(func(t *Thread) int64 { return t.Vpgid }),
	"proc.tty":                threadNum(func(t *Thread) int64 { return int64(t.Tty) }),
	"proc.is_vpgid_leader":    threadNum(func(t *Thread) int64 { return b2i(t.Vpid == t.Vpgid) }),
	"proc.is_exe_upper_layer": threadNum(func(t *Thread) int64 { return b2i(t.ExeUpperLayer) }),
	"proc.is_exe_from_memfd":  threadNum(func(t *Thread) int64 { return b2i(t.ExeMemfd) }),
	"proc.is_exe_writable":    threadNum(func(t *Thread) int64 { return b2i(t.ExeWritable) }),
	"proc.is_exe_lower_layer": threadNum(func(t *Thread) int64 { return b2i(t.ExeLowerLayer) }),
	"proc.pname":              parentStr(func(t *Thread) string { return t.Name }),
	"proc.pexe":               parentStr(func(t *Thread) string { return t.Exe }),
	"proc.pexepath":           parentStr(func(t *Thread) string { return t.ExePath }),
	"proc.pcmdline":           parentStr(func(t *Thread) string { return t.cmdLine }),
	"proc.ppid": num(func(e *Event) (int64, bool) {
		if e.Thread == nil || e.Thread.parent() == nil {
			return 0, false
		}
		return e.Thread.parent().Pid, true
	}),
	"thread.tid":           threadNum(func(t *Thread) int64 { return t.Tid }),
	"thread.cap_effective": threadStr(func(t *Thread) string { return t.CapEffective }),
	"thread.cap_permitted": threadStr(func(t *Thread) string { return t.CapPermitted }),
	"user.uid":             threadNum(func(t *Thread) int64 { return int64(t.UID) }),
	"user.name":            threadStr(func(t *Thread) string { return t.User }),
	"user.homedir":         threadStr(func(t *Thread) string { return t.HomeDir }),
	"user.shell":           threadStr(func(t *Thread) string { return t.Shell }),
	"user.loginuid":        threadNum(func(t *Thread) int64 { return t.LoginUID }),
	"user.loginname":       threadStr(func(t *Thread) string { return t.LoginUser }),
	"group.gid":            threadNum(func(t *Thread) int64 { return int64(t.GID) }),
	"group.name":           threadStr(func(t *Thread) string { return t.Group }),
	"fd.num":               fdNum(func(d *FD) (int64, bool) { return d.Num, true }),
	"fd.typechar":          fdStr(func(d *FD) (string, bool) { return typeChars[d.TypeChar], typeChars[d.TypeChar] != "" }),
	"fd.type":              fdStr(func(d *FD) (string, bool) { return typeStrings[d.TypeChar], typeStrings[d.TypeChar] != "" }),
	"fd.name":              fdStr(func(d *FD) (string, bool) { return d.Name, true }),
	"fd.directory":         fdStr(func(d *FD) (string, bool) { return dirOf(d.Name), d.TypeChar == 'f' || d.TypeChar == 'd' }),
	"fd.filename":          fdStr(func(d *FD) (string, bool) { return baseOf(d.Name), d.TypeChar == 'f' }),
	"fd.sip":               fdIP(serverIP),
	"fd.cip":               fdIP(clientIP),
	"fd.lip":               fdIP(func(d *FD) netip.Addr { return d.LocalIP }),
	"fd.rip":               fdIP(func(d *FD) netip.Addr { return d.RemoteIP }),
	"fd.snet":              fdIP(serverIP),
	"fd.cnet":              fdIP(clientIP),
	"fd.lnet":              fdIP(func(d *FD) netip.Addr { return d.LocalIP }),
	"fd.rnet":              fdIP(func(d *FD) netip.Addr { return d.RemoteIP }),
	"fd.sport":             fdNum(func(d *FD) (int64, bool) { return portOf(d, true) }),
	"fd.cport":             fdNum(func(d *FD) (int64, bool) { return portOf(d, false) }),
	"fd.lport":             fdNum(func(d *FD) (int64, bool) { return int64(d.LocalPort), isNet(d) }),
	"fd.rport":             fdNum(func(d *FD) (int64, bool) { return int64(d.RemotePort), isNet(d) }),
	"fd.is_server":         fdNum(func(d *FD) (int64, bool) { return b2i(d.IsServer), isNet(d) }),
	"fd.connected":         fdNum(func(d *FD) (int64, bool) { return b2i(d.Connected), isNet(d) }),
	"fd.nameraw":           fdStr(func(d *FD) (string, bool) { return cmp.Or(d.NameRaw, d.Name), true }),
	"fd.l4proto": fdStr(func(d *FD) (string, bool) {
		if p, ok := l4protos[d.L4Proto]; ok {
			return p, true
		}
		return "<NA>", true
	}),
	"fd.sockfamily": fdStr(func(d *FD) (string, bool) {
		switch d.TypeChar {
		case '4', '6':
			return "ip", true
		case 'u':
			return "unix", true
		}
		return "", false
	}),
	"fd.name_changed": num(func(e *Event) (int64, bool) { return b2i(e.NameChanged), e.FD != nil }),
	"fd.ip":           either(fdIP(clientIP), fdIP(serverIP)),
	"fd.net":          either(fdIP(clientIP), fdIP(serverIP)),
	"fd.port": either(fdNum(func(d *FD) (int64, bool) { return portOf(d, false) }),
		fdNum(func(d *FD) (int64, bool) { return portOf(d, true) })),
	"evt.hostname":       str(func(e *Event) (string, bool) { return e.Hostname, e.Hostname != "" }),
	"syscall.type":       str(func(e *Event) (string, bool) { return e.Type.String(), true }),
	"evt.args":           str(func(e *Event) (string, bool) { return argsText(e.Args), true }),
	"proc.sname":         leaderStr(sessionOf, func(t *Thread) string { return t.Name }),
	"proc.vpgid.name":    leaderStr(groupOf, func(t *Thread) string { return t.Name }),
	"proc.vpgid.exe":     leaderStr(groupOf, func(t *Thread) string { return t.Exe }),
	"proc.exe_ino":       threadNum(func(t *Thread) int64 { return int64(t.ExeIno) }),
	"proc.exe_ino.ctime": threadNum(func(t *Thread) int64 { return t.ExeCtime }),
	"proc.exe_ino.mtime": threadNum(func(t *Thread) int64 { return t.ExeMtime }),
	"proc.exe_ino.ctime_duration_proc_start": threadNum(func(t *Thread) int64 {
		return t.Start - t.ExeCtime // how long after the file changed the process started
	}),
	"proc.duration": num(func(e *Event) (int64, bool) {
		if e.Thread == nil || e.Thread.Start == 0 {
			return 0, false
		}
		return e.Time - e.Thread.Start, true
	}),
	"proc.ppid.duration": num(func(e *Event) (int64, bool) {
		if e.Thread == nil || e.Thread.parent() == nil || e.Thread.parent().Start == 0 {
			return 0, false
		}
		return e.Time - e.Thread.parent().Start, true
	}),
	"container.id": str(func(e *Event) (string, bool) {
		if e.Thread == nil {
			return "", false
		}
		if e.Thread.Container == nil {
			return "host", true
		}
		return e.Thread.Container.ID, true
	}),
	"container.full_id":          containerStr(func(c *Container) string { return c.FullID }),
	"container.name":             containerStr(func(c *Container) string { return c.Name }),
	"container.type":             containerStr(func(c *Container) string { return c.Type }),
	"container.image":            containerStr(func(c *Container) string { return c.Image }),
	"container.image.repository": containerStr(func(c *Container) string { return c.ImageRepo }),
	"container.image.tag":        containerStr(func(c *Container) string { return c.ImageTag }),
	"container.start_ts": num(func(e *Event) (int64, bool) {
		if e.Thread == nil || e.Thread.Container == nil || e.Thread.Container.StartTs == 0 {
			return 0, false
		}
		return e.Thread.Container.StartTs, true
	}),
	"container.privileged": num(func(e *Event) (int64, bool) {
		if e.Thread == nil || e.Thread.Container == nil {
			return 0, false
		}
		return b2i(e.Thread.Container.Privileged), true
	}),
	"k8s.pod.name": containerStr(func(c *Container) string { return c.PodName }),
	"k8s.ns.name":  containerStr(func(c *Container) string { return c.Namespace }),
	"k8s.pod.uid":  containerStr(func(c *Container) string { return c.PodUID }),
	"k8s.pod.ip":   containerStr(func(c *Container) string { return c.PodIP }),
	"k8s.pod.labels": containerStr(func(c *Container) string {
		keys := slices.Sorted(maps.Keys(c.PodLabels))
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k + ":" + c.PodLabels[k])
		}
		return b.String()
	}),
}

// typeChars and typeStrings are indexed by the fd type character, so the
// lookup is an array access on the hot path.
var typeChars = [256]string{'f': "f", 'd': "d", '4': "4", '6': "6", 'u': "u", 'p': "p", 'e': "e",
	's': "s", 'l': "l", 'i': "i", 'm': "m", 'b': "b", 'o': "o", 'r': "r"}

var openTypes = [...]Type{typeOf("open"), typeOf("openat"), typeOf("openat2"), typeOf("creat")}

func isOpen(e *Event) bool {
	for _, t := range openTypes {
		if e.Type == t {
			return true
		}
	}
	return false
}

func resString(res int64) string {
	if res >= 0 {
		return "SUCCESS"
	}
	return "E" + strconv.FormatInt(-res, 10)
}

// argAccessors build accessors for fields that take an argument.
var argAccessors = map[string]func(arg string) (acc, bool){
	"evt.arg": func(name string) (acc, bool) {
		return str(func(e *Event) (string, bool) {
			for _, a := range e.Args {
				if a.Name == name {
					return a.Value, true
				}
			}
			return "", false
		}), name != ""
	},
	"proc.args": func(arg string) (acc, bool) {
		if arg == "" {
			return threadStr(func(t *Thread) string { return t.argsLine }), true
		}
		i, err := strconv.Atoi(arg)
		return str(func(e *Event) (string, bool) {
			if e.Thread == nil || i < 0 || i >= len(e.Thread.Args) {
				return "", false
			}
			return e.Thread.Args[i], true
		}), err == nil
	},
	"k8s.pod.label": func(key string) (acc, bool) {
		return str(func(e *Event) (string, bool) {
			if e.Thread == nil || e.Thread.Container == nil {
				return "", false
			}
			v, ok := e.Thread.Container.PodLabels[key]
			return v, ok
		}), key != ""
	},
	"proc.aname":    ancestorField(func(t *Thread) string { return t.Name }),
	"proc.aexe":     ancestorField(func(t *Thread) string { return t.Exe }),
	"proc.aexepath": ancestorField(func(t *Thread) string { return t.ExePath }),
	"proc.env": func(key string) (acc, bool) {
		if key == "" {
			return threadStr(func(t *Thread) string { return t.envLine }), true
		}
		return str(func(e *Event) (string, bool) {
			if e.Thread == nil {
				return "", false
			}
			for _, kv := range e.Thread.Env {
				if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
					return kv[len(key)+1:], true
				}
			}
			return "", false
		}), true
	},
}

// ancestor returns the n-th ancestor of t (0 is t itself), or nil.
func ancestor(t *Thread, n int) *Thread {
	for ; t != nil && n > 0; n-- {
		t = t.parent()
	}
	return t
}

// ancestorField reads a field of the N-th ancestor with [N], or of any
// ancestor without an argument (proc.aname = sshd: some ancestor is sshd).
func ancestorField(f func(*Thread) string) func(string) (acc, bool) {
	return func(arg string) (acc, bool) {
		if arg == "" {
			return acc{Kind: engine.KindAny,
				N: func(e *Event) int {
					n := 0
					for t := ancestor(e.Thread, 1); t != nil; t = t.parent() {
						n++
					}
					return n
				},
				At: func(e *Event, i int) string { return f(ancestor(e.Thread, i+1)) },
			}, true
		}
		n, err := strconv.Atoi(arg)
		return str(func(e *Event) (string, bool) {
			if a := ancestor(e.Thread, n); a != nil {
				return f(a), true
			}
			return "", false
		}), err == nil && n >= 0
	}
}

// execSession is the session of the event's process tree, or nil.
func execSession(e *Event) *session.Session {
	if e.Thread == nil {
		return nil
	}
	return e.Thread.Exec.Session()
}

func execStr(f func(*session.Session) (string, bool)) acc {
	return str(func(e *Event) (string, bool) {
		if s := execSession(e); s != nil {
			return f(s)
		}
		return "", false
	})
}

// execAccessors read k8s.exec.*: absent for processes no session started
// (and while one is still to be bound).
var execAccessors = map[string]acc{
	"k8s.exec.user":    execStr(func(s *session.Session) (string, bool) { return s.User, true }),
	"k8s.exec.command": execStr(func(s *session.Session) (string, bool) { return s.CommandLine(), true }),
	"k8s.exec.id":      execStr(func(s *session.Session) (string, bool) { return s.ID, true }),
	"k8s.exec.kind":    execStr(func(s *session.Session) (string, bool) { return s.KindValue(), true }),
	"k8s.exec.auditid": execStr(func(s *session.Session) (string, bool) { return s.AuditIDValue() }),
	"k8s.exec.time": num(func(e *Event) (int64, bool) {
		if s := execSession(e); s != nil {
			return s.Time.UnixNano(), true
		}
		return 0, false
	}),
	"k8s.exec.ambiguous": num(func(e *Event) (int64, bool) {
		if s := execSession(e); s != nil {
			return b2i(s.Ambiguous), true
		}
		return 0, false
	}),
	"k8s.exec.groups": {Kind: engine.KindList,
		N: func(e *Event) int {
			if s := execSession(e); s != nil {
				return len(s.Groups)
			}
			return 0
		},
		At: func(e *Event, i int) string { return execSession(e).Groups[i] },
	},
}
