package runtime

import (
	"net/netip"
	"strings"

	"github.com/peregrine-sec/peregrine/policies/engine"
)

type acc = engine.Accessor[Event]

func str(f func(*Event) (string, bool)) acc { return acc{Kind: engine.KindString, Str: f} }
func num(f func(*Event) (int64, bool)) acc  { return acc{Kind: engine.KindInt, Int: f} }
func ip(f func(*Event) (netip.Addr, bool)) acc {
	return acc{Kind: engine.KindIP, IP: f}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// dirSlash is a directory as libsinsp keeps a working directory: with a
// trailing slash (proc.cwd is "/tmp/").
func dirSlash(dir string) string {
	if dir == "" || strings.HasSuffix(dir, "/") {
		return dir
	}
	return dir + "/"
}

// thread and fd helpers: a nil part means the field is absent.
func threadStr(f func(*Thread) string) acc {
	return str(func(e *Event) (string, bool) {
		if e.Thread == nil {
			return "", false
		}
		return f(e.Thread), true
	})
}

func threadNum(f func(*Thread) int64) acc {
	return num(func(e *Event) (int64, bool) {
		if e.Thread == nil {
			return 0, false
		}
		return f(e.Thread), true
	})
}

func parentStr(f func(*Thread) string) acc {
	return str(func(e *Event) (string, bool) {
		if e.Thread == nil || e.Thread.parent() == nil {
			return "", false
		}
		return f(e.Thread.parent()), true
	})
}

func fdStr(f func(*FD) (string, bool)) acc {
	return str(func(e *Event) (string, bool) {
		if e.FD == nil {
			return "", false
		}
		return f(e.FD)
	})
}

func fdNum(f func(*FD) (int64, bool)) acc {
	return num(func(e *Event) (int64, bool) {
		if e.FD == nil {
			return 0, false
		}
		return f(e.FD)
	})
}

func fdIP(f func(*FD) netip.Addr) acc {
	return ip(func(e *Event) (netip.Addr, bool) {
		if e.FD == nil || (e.FD.TypeChar != '4' && e.FD.TypeChar != '6') {
			return netip.Addr{}, false
		}
		a := f(e.FD)
		return a, a.IsValid()
	})
}

func containerStr(f func(*Container) string) acc {
	return str(func(e *Event) (string, bool) {
		if e.Thread == nil || e.Thread.Container == nil {
			return "", false
		}
		return f(e.Thread.Container), true
	})
}

// isNet reports whether the fd is a socket with addresses.
func isNet(d *FD) bool { return d.TypeChar == '4' || d.TypeChar == '6' }

func serverIP(d *FD) netip.Addr {
	if d.IsServer {
		return d.LocalIP
	}
	return d.RemoteIP
}

func clientIP(d *FD) netip.Addr {
	if d.IsServer {
		return d.RemoteIP
	}
	return d.LocalIP
}

func portOf(d *FD, server bool) (int64, bool) {
	if !isNet(d) {
		return 0, false
	}
	if d.IsServer == server {
		return int64(d.LocalPort), true
	}
	return int64(d.RemotePort), true
}

func dirOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	switch {
	case i < 0:
		return ""
	case i == 0:
		return "/"
	}
	return name[:i]
}

func baseOf(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

var typeStrings = [256]string{'f': "file", 'd': "directory", '4': "ipv4", '6': "ipv6", 'u': "unix",
	'p': "pipe", 'e': "event", 's': "signalfd", 'l': "eventpoll", 'i': "inotify", 'm': "memfd", 'b': "bpf"}

// either is a filter-only field that matches when either end does.
func either(client, server acc) acc {
	a := client
	a.Either = []acc{client, server}
	return a
}

func sessionOf(t *Thread) int64 { return t.Sid }
func groupOf(t *Thread) int64   { return t.Vpgid }

// leader is t's session or process group leader as libsinsp finds it
// (proc.sname, proc.vpgid.name): outside a pid namespace, the process
// whose pid is the id, looked for among t and its ancestors; otherwise,
// or when it is not there, the eldest of the unbroken line of t's
// ancestors with t's id, t not included. A process in a container whose
// parent is in another session has none (nil): libsinsp prints "".
func leader(t *Thread, id func(*Thread) int64) *Thread {
	want := id(t)
	if t.Vpid == t.Pid {
		for a := t; a != nil; a = a.parent() {
			if a.Pid == want {
				return a
			}
		}
	}
	var found *Thread
	for a := t.parent(); a != nil && id(a) == want; a = a.parent() {
		found = a
	}
	return found
}

// leaderStr reads a field of t's leader, "" when it has none.
func leaderStr(id func(*Thread) int64, f func(*Thread) string) acc {
	return threadStr(func(t *Thread) string {
		if l := leader(t, id); l != nil {
			return f(l)
		}
		return ""
	})
}

// argsText is evt.args: every argument as name=value.
func argsText(args []Arg) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Name)
		b.WriteByte('=')
		b.WriteString(a.Value)
	}
	return b.String()
}
