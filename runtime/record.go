package runtime

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
)

// A capture file is JSON lines, one event each, self-contained: the event,
// its process, and that process's ancestors, so it replays without the
// process table of the machine that recorded it.

type recordedEvent struct {
	Type      string           `json:"type"`
	Num       uint64           `json:"num"`
	Time      int64            `json:"time"`
	Res       int64            `json:"res"`
	Flags     uint32           `json:"flags,omitempty"`
	FD        *recordedFD      `json:"fd,omitempty"`
	Host      string           `json:"host,omitempty"`
	Changed   bool             `json:"name_changed,omitempty"`
	Args      []Arg            `json:"args,omitempty"`
	Thread    recordedThread   `json:"thread"`
	Ancestors []recordedThread `json:"ancestors,omitempty"`
}

type recordedFD struct {
	Num        int64      `json:"num"`
	Type       string     `json:"type"`
	Name       string     `json:"name,omitempty"`
	LocalIP    netip.Addr `json:"lip,omitzero"`
	RemoteIP   netip.Addr `json:"rip,omitzero"`
	LocalPort  uint16     `json:"lport,omitempty"`
	RemotePort uint16     `json:"rport,omitempty"`
	IsServer   bool       `json:"server,omitempty"`
	Connected  bool       `json:"connected,omitempty"`
	L4Proto    uint8      `json:"l4proto,omitempty"`
	NameRaw    string     `json:"nameraw,omitempty"`
}

type recordedThread struct {
	Pid       int64      `json:"pid"`
	Vpid      int64      `json:"vpid,omitempty"`
	Sid       int64      `json:"sid,omitempty"`
	Vpgid     int64      `json:"vpgid,omitempty"`
	Start     int64      `json:"start,omitempty"`
	ExeFlags  []string   `json:"exe_flags,omitempty"`
	ExeIno    uint64     `json:"exe_ino,omitempty"`
	ExeCtime  int64      `json:"exe_ctime,omitempty"`
	ExeMtime  int64      `json:"exe_mtime,omitempty"`
	CapEff    uint64     `json:"cap_effective,omitempty"` // capability sets, bit N capability N
	CapPrm    uint64     `json:"cap_permitted,omitempty"`
	Name      string     `json:"name"`
	Exe       string     `json:"exe,omitempty"`
	ExePath   string     `json:"exepath,omitempty"`
	Args      []string   `json:"args,omitempty"`
	Env       []string   `json:"env,omitempty"` // the event's own process only
	Cwd       string     `json:"cwd,omitempty"`
	Tty       uint32     `json:"tty,omitempty"`
	UID       uint32     `json:"uid"`
	GID       uint32     `json:"gid"`
	User      string     `json:"user,omitempty"`
	Group     string     `json:"group,omitempty"`
	LoginUID  int64      `json:"loginuid"`
	LoginUser string     `json:"loginuser,omitempty"`
	Container *Container `json:"container,omitempty"`
}

// maxAncestors bounds the ancestors a recorded event keeps; rules look at
// most a few levels up (proc.aname[7] in the upstream rules).
const maxAncestors = 16

// Recorder writes events to a capture file.
type Recorder struct {
	enc *json.Encoder
}

// NewRecorder writes to w.
func NewRecorder(w io.Writer) *Recorder { return &Recorder{enc: json.NewEncoder(w)} }

// Write records one event.
func (r *Recorder) Write(ev *Event) error {
	re := recordedEvent{Type: ev.Type.String(), Num: ev.Num, Time: ev.Time, Res: ev.Res, Flags: ev.Flags, Args: ev.Args,
		Thread: recordThread(ev.Thread), Host: ev.Hostname, Changed: ev.NameChanged}
	re.Thread.Env = ev.Thread.Env
	if ev.FD != nil {
		d := ev.FD
		re.FD = &recordedFD{Num: d.Num, Type: string(rune(d.TypeChar)), Name: d.Name, LocalIP: d.LocalIP, RemoteIP: d.RemoteIP,
			LocalPort: d.LocalPort, RemotePort: d.RemotePort, IsServer: d.IsServer, Connected: d.Connected,
			L4Proto: d.L4Proto, NameRaw: d.NameRaw}
	}
	for a := ev.Thread.parent(); a != nil && len(re.Ancestors) < maxAncestors; a = a.parent() {
		re.Ancestors = append(re.Ancestors, recordThread(a))
	}
	if err := r.enc.Encode(&re); err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

func recordThread(t *Thread) recordedThread {
	var flags []string
	if t.ExeUpperLayer {
		flags = append(flags, "upper_layer")
	}
	if t.ExeMemfd {
		flags = append(flags, "memfd")
	}
	if t.ExeWritable {
		flags = append(flags, "writable")
	}
	if t.ExeLowerLayer {
		flags = append(flags, "lower_layer")
	}
	return recordedThread{Pid: t.Pid, Vpid: t.Vpid, Sid: t.Sid, Vpgid: t.Vpgid, Start: t.Start, ExeFlags: flags,
		ExeIno: t.ExeIno, ExeCtime: t.ExeCtime, ExeMtime: t.ExeMtime, Name: t.Name, Exe: t.Exe, ExePath: t.ExePath, Args: t.Args, Cwd: t.Cwd,
		Tty: t.Tty, UID: t.UID, GID: t.GID, User: t.User, Group: t.Group, LoginUID: t.LoginUID, LoginUser: t.LoginUser,
		Container: t.Container, CapEff: capsMask(t.CapEffective), CapPrm: capsMask(t.CapPermitted)}
}

func (r recordedThread) thread() *Thread {
	return (&Thread{Pid: r.Pid, Tid: r.Pid, Vpid: r.Vpid, Sid: r.Sid, Vpgid: r.Vpgid, Start: r.Start,
		ExeUpperLayer: slices.Contains(r.ExeFlags, "upper_layer"), ExeMemfd: slices.Contains(r.ExeFlags, "memfd"),
		ExeWritable: slices.Contains(r.ExeFlags, "writable"), ExeLowerLayer: slices.Contains(r.ExeFlags, "lower_layer"),
		ExeIno: r.ExeIno, ExeCtime: r.ExeCtime, ExeMtime: r.ExeMtime, Name: r.Name, Exe: r.Exe, ExePath: r.ExePath, Args: r.Args,
		Cwd: r.Cwd, Tty: r.Tty, UID: r.UID, GID: r.GID, User: r.User, Group: r.Group, LoginUID: r.LoginUID,
		LoginUser: r.LoginUser, Container: r.Container, Env: r.Env,
		CapEffective: capsText(int64(r.CapEff)), CapPermitted: capsText(int64(r.CapPrm))}).Init()
}

// ReadCapture reads a capture file, calling fn with each event; a
// malformed line goes to bad with its number and is skipped.
func ReadCapture(r io.Reader, fn func(*Event) error, bad func(line int, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var re recordedEvent
		if err := json.Unmarshal(sc.Bytes(), &re); err != nil {
			bad(n, err)
			continue
		}
		if err := fn(re.event()); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (re *recordedEvent) event() *Event {
	ev := &Event{Type: typeOf(re.Type), Num: re.Num, Time: re.Time, Res: re.Res, Flags: re.Flags, Args: re.Args,
		Thread: re.Thread.thread(), Hostname: re.Host, NameChanged: re.Changed}
	t := ev.Thread
	for _, a := range re.Ancestors {
		t.Parent = a.thread()
		t = t.Parent
	}
	if d := re.FD; d != nil {
		ev.FD = &FD{Num: d.Num, Name: d.Name, LocalIP: d.LocalIP, RemoteIP: d.RemoteIP, LocalPort: d.LocalPort,
			RemotePort: d.RemotePort, IsServer: d.IsServer, Connected: d.Connected, L4Proto: d.L4Proto, NameRaw: d.NameRaw}
		if d.Type != "" {
			ev.FD.TypeChar = d.Type[0]
		}
	}
	return ev
}
