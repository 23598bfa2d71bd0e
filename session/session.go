package session

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Announcement is an exec the apiserver is about to start (from admission)
// or has started (from an audit event alone: Late).
type Announcement struct {
	ID          string   `json:"id"`
	AuditID     string   `json:"auditID,omitempty"`
	User        string   `json:"user"`
	Groups      []string `json:"groups,omitempty"`
	Namespace   string   `json:"namespace"`
	Pod         string   `json:"pod"`
	PodUID      string   `json:"podUID,omitempty"`
	Container   string   `json:"container,omitempty"`
	ContainerID string   `json:"containerID,omitempty"` // full runtime id, without the runtime:// prefix
	Node        string   `json:"node,omitempty"`
	Command     []string `json:"command"`
	Attach      bool     `json:"attach,omitempty"` // kubectl attach: no new process to bind
	// Kind is KindExec (kubectl exec: the processes its command starts) or
	// KindDebug (kubectl debug: every process of the ephemeral container
	// Container, which the session adds). Empty reads as exec.
	Kind string    `json:"kind,omitempty"`
	TTY  bool      `json:"tty,omitempty"` // a terminal was asked for (kubectl exec -t)
	Time time.Time `json:"time"`
	Late bool      `json:"late,omitempty"`
}

// Confirmation is the audit event of an announced exec: its audit ID.
type Confirmation struct {
	ID      string `json:"id"`
	AuditID string `json:"auditID"`
}

// AnnotationKey is the audit annotation that carries the webhook's request
// id, which is the session id, into the audit event (the apiserver
// prefixes it with the webhook's name: "<webhook>/request-id").
const AnnotationKey = "request-id"

// Binding is what an agent reports when a process binds a session: which
// container (its runtime id) and when, whether it was a guess
// (Ambiguous), and the session's announcement, so that the replica that
// takes the report knows the session even when another one announced it.
type Binding struct {
	ID           string       `json:"id"`
	ContainerID  string       `json:"containerID"`
	Time         time.Time    `json:"time"`
	Ambiguous    bool         `json:"ambiguous,omitempty"`
	Announcement Announcement `json:"announcement"`
}

// Session is an announced exec once a process is bound to it.
type Session struct {
	Announcement
	auditID   atomic.Pointer[string] // set by the confirmation, possibly later
	Ambiguous bool                   // another pending announcement matched the same process
	Bound     time.Time
}

// AuditIDValue is the audit ID, once known.
func (s *Session) AuditIDValue() (string, bool) {
	if p := s.auditID.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// Session kinds (k8s.exec.kind).
const (
	KindExec  = "exec"
	KindDebug = "debug"
)

// KindValue is the session's kind, exec when unsaid.
func (a *Announcement) KindValue() string {
	if a.Kind == "" {
		return KindExec
	}
	return a.Kind
}

// CommandLine is the command joined with blanks (k8s.exec.command).
func (s *Session) CommandLine() string { return strings.Join(s.Command, " ") }

// Slot is what a process tree started from outside its container's init
// tree carries: shared by every descendant, it holds the session once one
// is bound (at exec with a webhook; later when only audit announces it).
type Slot struct {
	s       atomic.Pointer[Session]
	started time.Time
	// argvs are what the tree exec'd while unbound (the first
	// maxArgvs): a late announcement names one of them, not always the
	// latest, since the command's own children exec too (sh -c 'cat f'
	// becomes cat f) before the audit event or a slow webhook path
	// arrives. Guarded by the Registry.
	argvs [][]string
	// ambiguous: another tree ran the same command when a late
	// announcement was bound; guarded by the Registry.
	ambiguous bool
}

// Session returns the bound session, or nil.
func (sl *Slot) Session() *Session {
	if sl == nil {
		return nil
	}
	return sl.s.Load()
}

// Pending reports whether the slot may still be bound: no session yet and
// within the window a late announcement may take to arrive.
func (sl *Slot) Pending(now time.Time, window time.Duration) bool {
	return sl != nil && sl.s.Load() == nil && now.Sub(sl.started) < window
}

// maxArgvs bounds what a slot remembers of its tree's execs: the helper
// that joins the container, the command, and a few of its children.
const maxArgvs = 8

// ran reports whether the slot's tree exec'd argv while unbound.
func (sl *Slot) ran(argv []string) bool {
	return slices.ContainsFunc(sl.argvs, func(a []string) bool { return slices.Equal(a, argv) })
}

func matches(a *Announcement, argv []string) bool {
	return len(a.Command) > 0 && slices.Equal(a.Command, argv)
}
