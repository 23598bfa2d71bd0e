package runtime

import (
	"maps"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/peregrine-sec/peregrine/bpf"
)

// maxFDs bounds what is remembered per process: close is not captured (it
// would double the cost of every open), so entries are replaced when a
// number is reused and forgotten with the process.
const maxFDs = 1024

// fdOf returns what the process last learnt about fd, or nil.
func (th *Thread) fdOf(fd int64) *FD {
	if th == nil {
		return nil
	}
	return th.fds[fd]
}

// setFD remembers fd for later events on the same number (dup, sendto).
func (th *Thread) setFD(d *FD) {
	if th == nil || d == nil || d.Num < 0 {
		return
	}
	switch {
	case th.fds == nil:
		th.fds = map[int64]*FD{}
	case th.sharedFDs:
		th.fds, th.sharedFDs = maps.Clone(th.fds), false
	}
	if _, known := th.fds[d.Num]; !known && len(th.fds) >= maxFDs {
		return
	}
	th.fds[d.Num] = d
}

// Socket families and the socket state the probe reports.
const (
	afUnix      = 1
	afInet      = 2
	afInet6     = 10
	ssConnected = 3
)

// sockFD is the socket a record describes (nil when the fd is none). The
// local end is the server for accept, bind and listen.
func sockFD(rec *bpf.Record, num int64, server bool) *FD {
	fd := &FD{Num: num, L4Proto: rec.L4proto, IsServer: server, Connected: rec.SockState == ssConnected,
		LocalPort: rec.Lport, RemotePort: rec.Port}
	switch rec.Family {
	case afInet:
		fd.TypeChar = '4'
		fd.LocalIP, fd.RemoteIP = netip.AddrFrom4([4]byte(rec.Laddr[:4])), netip.AddrFrom4([4]byte(rec.Addr[:4]))
	case afInet6:
		fd.TypeChar = '6'
		fd.LocalIP, fd.RemoteIP = netip.AddrFrom16(rec.Laddr).Unmap(), netip.AddrFrom16(rec.Addr).Unmap()
		if fd.LocalIP.Is4() && fd.RemoteIP.Is4() { // a v4 peer of a dual-stack socket
			fd.TypeChar = '4'
		}
	case afUnix:
		fd.TypeChar = 'u'
		return fd
	default:
		return nil
	}
	fd.Name = socketName(fd)
	return fd
}

// socketName is fd.name of an IP socket: client->server, as libsinsp names
// both ends of a connection, or the bound address of a listening socket.
func socketName(fd *FD) string {
	if fd.LocalPort == 0 && fd.RemotePort == 0 && fd.LocalIP.IsUnspecified() && fd.RemoteIP.IsUnspecified() {
		return "" // a socket not yet bound or connected has no name
	}
	local := netip.AddrPortFrom(fd.LocalIP, fd.LocalPort).String()
	if fd.IsServer && fd.RemotePort == 0 && fd.RemoteIP.IsUnspecified() {
		return local
	}
	remote := netip.AddrPortFrom(fd.RemoteIP, fd.RemotePort).String()
	if fd.IsServer {
		return remote + "->" + local
	}
	return local + "->" + remote
}

// l4protos are fd.l4proto's values by IP protocol number.
var l4protos = map[uint8]string{6: "tcp", 17: "udp", 1: "icmp", 58: "icmp", 255: "raw"}

// applyFD sets ev.FD for the syscalls that act on a file descriptor, and
// remembers new descriptors in the process's table.
func (t *Table) applyFD(name string, rec *bpf.Record, ev *Event) {
	th := ev.Thread
	switch name {
	case "connect", "sendto", "sendmsg":
		ev.FD = sockFD(rec, int64(rec.Fd), false)
		if ev.FD == nil {
			return
		}
		prev := th.fdOf(ev.FD.Num)
		ev.NameChanged = prev == nil || prev.Name != ev.FD.Name
		if name == "connect" && (rec.Ret == 0 || rec.Ret == -errInProgress) {
			ev.FD.Connected = true
		}
	case "accept", "accept4", "socket":
		ev.FD = sockFD(rec, rec.Ret, name != "socket")
	case "bind", "listen":
		ev.FD = sockFD(rec, int64(rec.Fd), true)
	case "dup", "dup2", "dup3":
		ev.FD = t.dupFD(rec, th)
	case "fchmod", "fchdir", "finit_module", "setns":
		ev.FD = th.fdOf(rec.Nums[0])
		return
	default:
		return
	}
	if rec.Ret >= 0 {
		th.setFD(ev.FD)
	}
}

const errInProgress = 115 // EINPROGRESS: a non-blocking connect under way

// dupFD is the descriptor dup returned: a copy of what the table knows of
// the old descriptor, or the socket the kernel reported, or what /proc says.
func (t *Table) dupFD(rec *bpf.Record, th *Thread) *FD {
	if rec.Ret < 0 {
		return th.fdOf(rec.Nums[0])
	}
	if old := th.fdOf(rec.Nums[0]); old != nil {
		d := *old
		d.Num = rec.Ret
		return &d
	}
	if rec.Family != 0 {
		// Not seen created: the kernel knows both ends, not which is the
		// server.
		return sockFD(rec, rec.Ret, false)
	}
	if th == nil {
		return nil
	}
	target, err := readlink(t.procfs, th.Pid, "fd/"+strconv.FormatInt(rec.Ret, 10))
	if err != nil || target == "" || target[0] != '/' {
		return nil
	}
	return &FD{Num: rec.Ret, TypeChar: 'f', Name: target}
}

// atFDCWD is the dirfd that means "relative to the working directory".
const atFDCWD = -100

// resolveAt makes p absolute as fd.name shows it: against the directory
// of dirfd, or the working directory.
func (t *Table) resolveAt(th *Thread, dirfd int64, p string) string {
	if p == "" || p[0] == '/' || dirfd == atFDCWD || th == nil {
		return t.absolute(th, p)
	}
	if d := th.fdOf(dirfd); d != nil && d.TypeChar == 'f' {
		return filepath.Join(d.Name, p)
	}
	if dir, err := readlink(t.procfs, th.Pid, "fd/"+strconv.FormatInt(dirfd, 10)); err == nil && dir != "" && dir[0] == '/' {
		return filepath.Join(dir, p)
	}
	return t.absolute(th, p)
}
