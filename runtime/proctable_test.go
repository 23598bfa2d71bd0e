package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/bpf"
)

// TestOrphansReparented: when a process exits, its children belong to the
// init of their pid namespace, as the kernel reparents them and libsinsp
// follows: proc.pname and proc.aname then name init, not the dead parent.
func TestOrphansReparented(t *testing.T) {
	tab := NewTable(t.TempDir())
	box := &Container{ID: "c1"}
	tab.procs[1] = (&Thread{Pid: 1, Vpid: 1, Name: "init"}).Init()
	tab.procs[10] = (&Thread{Pid: 10, Vpid: 10, Name: "setsid", Parent: tab.procs[1]}).Init()
	tab.procs[20] = (&Thread{Pid: 20, Vpid: 20, Name: "shim", Parent: tab.procs[1]}).Init()
	tab.procs[21] = (&Thread{Pid: 21, Vpid: 1, Name: "entry", Parent: tab.procs[20], Container: box}).Init()
	tab.procs[22] = (&Thread{Pid: 22, Vpid: 5, Name: "wrapper", Parent: tab.procs[21], Container: box}).Init()
	tab.fork(10, 11)
	tab.fork(11, 12)
	tab.fork(22, 23)
	for _, pid := range []uint32{10, 22} {
		tab.Apply(&bpf.Record{Kind: bpf.KindExit, Pid: pid, Tid: pid}, &Event{})
	}
	names := func(pid uint32) []string {
		var out []string
		for a := tab.procs[pid].parent(); a != nil; a = a.parent() {
			out = append(out, a.Name)
		}
		return out
	}
	for _, tt := range []struct {
		pid  uint32
		want []string
	}{
		{11, []string{"init"}},                  // its parent exited: the host's init
		{12, []string{"setsid", "init"}},        // its parent lives (a copy of setsid until it execs)
		{23, []string{"entry", "shim", "init"}}, // in a container: the container's init
	} {
		if diff := cmp.Diff(tt.want, names(tt.pid)); diff != "" {
			t.Errorf("ancestors of %d (-want +got):\n%s", tt.pid, diff)
		}
	}
}

// TestExecTakesKernelParent: an exec record names the process's parent as
// the kernel has it; when that is not the process that forked it (clone
// with CLONE_PARENT, as runc starts container processes), the exec's
// parent wins.
func TestExecTakesKernelParent(t *testing.T) {
	tab := NewTable(t.TempDir())
	tab.procs[1] = (&Thread{Pid: 1, Vpid: 1, Name: "shim"}).Init()
	tab.procs[10] = (&Thread{Pid: 10, Vpid: 10, Name: "runc", Parent: tab.procs[1]}).Init()
	tab.fork(10, 11)
	rec := &bpf.Record{Kind: bpf.KindExec, Pid: 11, Tid: 11, Ppid: 1, Syscall: bpf.SysExecve}
	cstr(rec.Comm[:], "sh")
	var ev Event
	if !tab.Apply(rec, &ev) {
		t.Fatal("Apply reported no event")
	}
	if p := ev.Thread.parent(); p == nil || p.Name != "shim" {
		t.Errorf("parent %+v, want shim", p)
	}
}

// TestSessionLeader: proc.sname as libsinsp finds the leader: on the host,
// the process whose pid is the session id; in a pid namespace, the eldest
// of the ancestors in the same session, never the process itself, so a
// container process whose parent is in another session has "".
func TestSessionLeader(t *testing.T) {
	box := &Container{ID: "c1"}
	sshd := (&Thread{Pid: 100, Vpid: 100, Sid: 100, Name: "sshd"}).Init()
	bash := (&Thread{Pid: 101, Vpid: 101, Sid: 101, Name: "bash", Parent: sshd}).Init()
	vim := (&Thread{Pid: 102, Vpid: 102, Sid: 101, Name: "vim", Parent: bash}).Init()
	shim := (&Thread{Pid: 200, Vpid: 200, Sid: 200, Name: "containerd-shim"}).Init()
	entry := (&Thread{Pid: 201, Vpid: 1, Sid: 201, Name: "entry", Parent: shim, Container: box}).Init()
	worker := (&Thread{Pid: 202, Vpid: 7, Sid: 201, Name: "worker", Parent: entry, Container: box}).Init()
	got := map[string]string{}
	for _, th := range []*Thread{bash, vim, entry, worker} {
		got[th.Name], _ = accessors["proc.sname"].Str(&Event{Thread: th})
	}
	want := map[string]string{"bash": "bash", "vim": "bash", "entry": "", "worker": "entry"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("proc.sname (-want +got):\n%s", diff)
	}
}

// TestSubreaperAdopts: a subreaper (the fork record says so) adopts the
// orphans of its descendants in its pid namespace before init does; a
// fork with CLONE_PARENT gives the child the forker's parent; the child's
// vpid is the record's, not the forker's.
func TestSubreaperAdopts(t *testing.T) {
	tab := NewTable(t.TempDir())
	tab.procs[1] = (&Thread{Pid: 1, Vpid: 1, Name: "init"}).Init()
	tab.procs[30] = (&Thread{Pid: 30, Vpid: 30, Name: "containerd-shim", Parent: tab.procs[1]}).Init()
	fork := func(parent, child, real uint32, flags uint32) {
		tab.Apply(&bpf.Record{Kind: bpf.KindFork, Pid: parent, Tid: parent, Ppid: child,
			Nums: [6]int64{int64(real), int64(child)}, ExeFlags: flags}, &Event{}) // on the host: vpid = pid
	}
	fork(30, 31, 30, subreaper) // the shim, a subreaper by now, starts runc
	tab.procs[31].Name = "runc" // (as its exec would)
	fork(31, 32, 30, 0)         // runc clones with CLONE_PARENT: the shim's child
	fork(31, 33, 31, 0)         // and an ordinary child of its own
	fork(33, 34, 33, 0)
	tab.Apply(&bpf.Record{Kind: bpf.KindExit, Pid: 33, Tid: 33}, &Event{})
	for _, tt := range []struct {
		pid  uint32
		want string
	}{{32, "containerd-shim"}, {34, "containerd-shim"}} { // 34's parent exited: the subreaper above adopts it
		if p := tab.procs[tt.pid].parent(); p == nil || p.Name != tt.want {
			t.Errorf("parent of %d: %+v, want %s", tt.pid, p, tt.want)
		}
	}
	if tab.procs[31].subreaper {
		t.Error("runc inherited the shim's subreaper flag")
	}
	if v := tab.procs[34].Vpid; v != 34 {
		t.Errorf("vpid of 34: %d, from the fork record's 34", v)
	}
}
