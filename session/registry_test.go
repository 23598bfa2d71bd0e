package session

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a registry's time, moved by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestRegistry() (*Registry, *clock) {
	c := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	r := NewRegistry(30 * time.Second)
	r.now = c.now
	return r, c
}

func ann(id, user, cid string, cmd ...string) Announcement {
	return Announcement{ID: id, User: user, Namespace: "shop", Pod: "web", ContainerID: cid, Command: cmd,
		Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
}

// bound describes what a slot is bound to, for diffs.
func bound(sl *Slot) string {
	s := sl.Session()
	if s == nil {
		return "unbound"
	}
	out := s.ID + " " + s.User
	if id, ok := s.AuditIDValue(); ok {
		out += " audit=" + id
	}
	if s.Ambiguous {
		out += " ambiguous"
	}
	return out
}

func TestRegistry(t *testing.T) {
	tests := []struct {
		name string
		run  func(r *Registry, c *clock) []*Slot
		want []string
	}{
		{"announced first, bound at exec", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			return []*Slot{r.OnExec("c1", []string{"bash"}, false, nil)}
		}, []string{"s1 alice"}},
		{"another command or container is not bound", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			return []*Slot{r.OnExec("c1", []string{"sh"}, false, nil), r.OnExec("c2", []string{"bash"}, false, nil)}
		}, []string{"unbound", "unbound"}},
		{"the container's own processes are never a session's", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			sl := r.OnExec("c1", []string{"bash"}, true, nil)
			return []*Slot{sl, r.OnExec("c1", []string{"bash"}, false, nil)}
		}, []string{"unbound", "s1 alice"}},
		{"exec first, announced late by the audit event", func(r *Registry, c *clock) []*Slot {
			sl := r.OnExec("c1", []string{"sh", "-c", "id"}, false, nil)
			c.t = c.t.Add(2 * time.Second)
			a := ann("a1", "bob", "c1", "sh", "-c", "id")
			a.Late, a.AuditID = true, "audit-1"
			r.Announce(a)
			return []*Slot{sl}
		}, []string{"a1 bob audit=audit-1"}},
		{"identical commands racing: first-come, both flagged", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			r.Announce(ann("s2", "bob", "c1", "bash"))
			return []*Slot{r.OnExec("c1", []string{"bash"}, false, nil), r.OnExec("c1", []string{"bash"}, false, nil)}
		}, []string{"s1 alice ambiguous", "s2 bob ambiguous"}},
		{"confirmed before and after binding", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			r.Confirm(Confirmation{ID: "s1", AuditID: "audit-1"})
			first := r.OnExec("c1", []string{"bash"}, false, nil)
			r.Announce(ann("s2", "bob", "c1", "top"))
			second := r.OnExec("c1", []string{"top"}, false, nil)
			r.Confirm(Confirmation{ID: "s2", AuditID: "audit-2"})
			r.Confirm(Confirmation{ID: "s2", AuditID: "audit-3"}) // a later stage of the same request
			return []*Slot{first, second}
		}, []string{"s1 alice audit=audit-1", "s2 bob audit=audit-2"}},
		{"an announcement waits no longer than the window", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			c.t = c.t.Add(31 * time.Second)
			return []*Slot{r.OnExec("c1", []string{"bash"}, false, nil)}
		}, []string{"unbound"}},
		{"the runtime's helper joins first, the command binds its tree", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "sh", "-c", "id"))
			helper := r.OnExec("c1", []string{"runc", "init"}, false, nil)
			cmd := r.OnExec("c1", []string{"sh", "-c", "id"}, false, helper)
			child := r.OnExec("c1", []string{"id"}, false, cmd)
			return []*Slot{helper, child}
		}, []string{"s1 alice", "s1 alice"}},
		{"late: the tree's latest exec is what the audit event names", func(r *Registry, c *clock) []*Slot {
			helper := r.OnExec("c1", []string{"runc", "init"}, false, nil)
			r.OnExec("c1", []string{"top"}, false, helper)
			a := ann("a1", "bob", "c1", "top")
			a.Late = true
			r.Announce(a)
			return []*Slot{helper}
		}, []string{"a1 bob"}},
		{"late: the command's own children exec'd before the announcement came", func(r *Registry, c *clock) []*Slot {
			sh := r.OnExec("c1", []string{"sh", "-c", "cat /etc/shadow"}, false, nil)
			cat := r.OnExec("c1", []string{"cat", "/etc/shadow"}, false, sh) // sh -c execs its last command
			r.Announce(ann("s1", "alice", "c1", "sh", "-c", "cat /etc/shadow"))
			return []*Slot{cat}
		}, []string{"s1 alice"}},
		{"late, identical commands: first-come, both flagged", func(r *Registry, c *clock) []*Slot {
			first := r.OnExec("c1", []string{"id"}, false, nil)
			second := r.OnExec("c1", []string{"id"}, false, nil)
			for _, id := range []string{"a1", "a2"} {
				a := ann(id, "bob", "c1", "id")
				a.Late = true
				r.Announce(a)
			}
			return []*Slot{first, second}
		}, []string{"a1 bob ambiguous", "a2 bob ambiguous"}},
		{"the audit event of an announced exec binds nothing twice", func(r *Registry, c *clock) []*Slot {
			r.Announce(ann("s1", "alice", "c1", "bash"))
			sl := r.OnExec("c1", []string{"bash"}, false, nil)
			r.Announce(ann("s1", "alice", "c1", "bash"))
			return []*Slot{sl, r.OnExec("c1", []string{"bash"}, false, nil)}
		}, []string{"s1 alice", "unbound"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newTestRegistry()
			var got []string
			for _, sl := range tt.run(r, c) {
				got = append(got, bound(sl))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSlotPending: a slot waits for its announcement for the window only.
func TestSlotPending(t *testing.T) {
	r, c := newTestRegistry()
	sl := r.OnExec("c1", []string{"bash"}, false, nil)
	if !sl.Pending(c.t, r.Window()) {
		t.Error("new slot not pending")
	}
	if sl.Pending(c.t.Add(31*time.Second), r.Window()) {
		t.Error("slot pending after the window")
	}
	var none *Slot
	if none.Pending(c.t, r.Window()) || none.Session() != nil {
		t.Error("nil slot pending")
	}
}

// TestReportBindings: each binding is reported once, early or late, with
// its container, time and whether it was a guess; nothing else is.
func TestReportBindings(t *testing.T) {
	r, c := newTestRegistry()
	var got []Binding
	r.ReportBindings(func(b Binding) { got = append(got, b) })
	r.Announce(ann("s1", "alice", "c1", "bash"))
	r.OnExec("c1", []string{"sh"}, false, nil) // not its command
	r.OnExec("c1", []string{"bash"}, false, nil)
	c.t = c.t.Add(time.Second)
	r.OnExec("c2", []string{"id"}, false, nil)
	late := ann("a1", "bob", "c2", "id")
	late.Late = true
	r.Announce(late)
	r.Announce(ann("s1", "alice", "c1", "bash")) // its audit event: bound already
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	want := []Binding{{ID: "s1", ContainerID: "c1", Time: t0, Announcement: ann("s1", "alice", "c1", "bash")},
		{ID: "a1", ContainerID: "c2", Time: t0.Add(time.Second), Announcement: late}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
}

// TestDebugSession: a debug session (kubectl debug) binds its container:
// every process in it from the announcement on, its init tree included,
// and one started outside that tree before; never another container's.
func TestDebugSession(t *testing.T) {
	r, c := newTestRegistry()
	var reported []string
	r.ReportBindings(func(b Binding) { reported = append(reported, b.ID+" "+b.ContainerID+" "+b.Announcement.KindValue()) })
	debug := Announcement{ID: "d1", User: "alice", Namespace: "shop", Pod: "web", Container: "debugger-x1",
		ContainerID: "dbg", Command: []string{"sh"}, Kind: KindDebug, Time: c.t}
	early := r.OnExec("dbg", []string{"sh"}, true, nil)                   // the debug command, before its session reached the agent
	outside := r.OnExec("dbg", []string{"cat", "/etc/hosts"}, false, nil) // an exec into it, before too
	r.Announce(debug)
	c.t = c.t.Add(time.Hour) // long after: a debug container lives on
	got := []string{bound(outside), bound(r.OnExec("dbg", []string{"cat", "/etc/shadow"}, true, nil)),
		bound(r.OnExec("app", []string{"cat", "/etc/shadow"}, false, nil))}
	if early != nil || r.OnExec("app", []string{"cat"}, true, nil) != nil {
		t.Error("a process of an init tree before the session, or of another container, got a slot")
	}
	if diff := cmp.Diff([]string{"d1 alice", "d1 alice", "unbound"}, got); diff != "" {
		t.Errorf("slots (-want +got):\n%s", diff)
	}
	if s := r.OnExec("dbg", []string{"id"}, true, nil).Session(); s == nil || s.KindValue() != KindDebug || s.Container != "debugger-x1" {
		t.Errorf("session %+v, want the debug session of debugger-x1", s)
	}
	if diff := cmp.Diff([]string{"d1 dbg debug"}, reported); diff != "" {
		t.Errorf("bindings reported (-want +got):\n%s", diff)
	}
}
