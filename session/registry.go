package session

import (
	"slices"
	"sync"
	"time"
)

// Registry is a node agent's view of exec sessions: announcements waiting
// for their process, processes (slots) waiting for a late announcement,
// and bound sessions waiting for their audit ID. Safe for concurrent use:
// announcements come from the server while the agent's loop binds.
type Registry struct {
	mu      sync.Mutex
	window  time.Duration
	now     func() time.Time
	changed chan struct{}

	pending    map[string][]*pendingAnn // by container id, oldest first
	candidates map[string][]*Slot       // unbound slots, by container id, oldest first
	byID       map[string]*Session
	containers map[string]*Slot // debug sessions: every process of the container, by its id
	early      map[string]early // confirmations that came before their binding
	report     func(Binding)    // nil: bindings are not reported
}

type pendingAnn struct {
	Announcement
	ambiguous bool
}

type early struct {
	auditID string
	at      time.Time
}

// debugLifetime bounds how long a debug container's session is kept: the
// agent is not told when the container ends, and kubectl debug's live
// minutes, not days.
const debugLifetime = 24 * time.Hour

// NewRegistry returns a registry that keeps an unmatched announcement, an
// unbound process and an early confirmation for window.
func NewRegistry(window time.Duration) *Registry {
	return &Registry{window: window, now: time.Now, changed: make(chan struct{}, 1),
		pending: map[string][]*pendingAnn{}, candidates: map[string][]*Slot{}, byID: map[string]*Session{},
		containers: map[string]*Slot{}, early: map[string]early{}}
}

// ReportBindings has f called with each binding, as it happens (under the
// registry's lock: f must not block). Call it before the registry is used.
func (r *Registry) ReportBindings(f func(Binding)) { r.report = f }

// Window is how long a process waits for a late announcement.
func (r *Registry) Window() time.Duration { return r.window }

// Changed is signalled after a slot is bound or a session confirmed, so
// that alerts held for them can go out.
func (r *Registry) Changed() <-chan struct{} { return r.changed }

func (r *Registry) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// OnExec is called for every exec in container cid with argv; inherited is
// the slot the process carries from its parent (nil: none). A process of
// the container's init tree (initTree) is never a session's: it returns
// nil. Other processes get a slot, bound now when an announcement is
// waiting for this argv. An unbound inherited slot is tried again with the
// new argv: the runtime's helper (runc init) joins the container first and
// execs the command second, in one process tree. The slot remembers each
// argv, for an announcement that comes after them.
func (r *Registry) OnExec(cid string, argv []string, initTree bool, inherited *Slot) *Slot {
	if inherited != nil && inherited.Session() != nil {
		return inherited
	}
	if cid == "" && inherited == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if sl := r.containers[cid]; sl != nil {
		return sl // a debug container's: every process is the session's
	}
	if inherited == nil && initTree {
		return nil
	}
	now := r.now()
	r.expire(now)
	sl := inherited
	if sl == nil {
		sl = &Slot{started: now}
		r.candidates[cid] = append(r.candidates[cid], sl)
	}
	if len(sl.argvs) < maxArgvs {
		sl.argvs = append(sl.argvs, slices.Clone(argv))
	}
	if a, ambiguous, ok := r.take(cid, argv); ok {
		r.candidates[cid] = slices.DeleteFunc(r.candidates[cid], func(c *Slot) bool { return c == sl })
		r.bind(sl, a, ambiguous, now)
	}
	return sl
}

// take removes and returns the oldest announcement waiting in cid for
// argv; ambiguous when another one waits for the same argv (which is then
// flagged too: first-come is a guess either way).
func (r *Registry) take(cid string, argv []string) (*Announcement, bool, bool) {
	anns := r.pending[cid]
	first, n := -1, 0
	for i, a := range anns {
		if matches(&a.Announcement, argv) {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	if first < 0 {
		return nil, false, false
	}
	a := anns[first]
	r.pending[cid] = slices.Delete(anns, first, first+1)
	if n > 1 {
		for _, b := range r.pending[cid] {
			if matches(&b.Announcement, argv) {
				b.ambiguous = true
			}
		}
	}
	return &a.Announcement, a.ambiguous || n > 1, true
}

// Announce records an exec: it binds a process that already ran (a late
// announcement from an audit event) or waits for one. An attach, or an
// exec without a command, has no process of its own to bind. A debug
// session binds its container: every process in it from now on, and those
// started outside its init tree before.
func (r *Registry) Announce(a Announcement) {
	if a.ContainerID == "" || (len(a.Command) == 0 && a.Kind != KindDebug) || a.Attach {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.expire(now)
	if _, bound := r.byID[a.ID]; bound {
		return // the webhook announced it; this is its audit event
	}
	if a.Kind == KindDebug {
		r.bindContainer(a, now)
		return
	}
	for _, p := range r.pending[a.ContainerID] {
		if p.ID == a.ID {
			return
		}
	}
	// The earliest process that ran the command since the request came
	// (a second of clock skew allowed) is the session's; others that ran
	// the same command make it a guess, flagged on all of them.
	var match []*Slot
	for _, sl := range r.candidates[a.ContainerID] {
		if sl.Session() == nil && !sl.started.Before(a.Time.Add(-time.Second)) && sl.ran(a.Command) {
			match = append(match, sl)
		}
	}
	if len(match) == 0 {
		r.pending[a.ContainerID] = append(r.pending[a.ContainerID], &pendingAnn{Announcement: a})
		return
	}
	sl := match[0]
	for _, other := range match[1:] {
		other.ambiguous = true
	}
	r.candidates[a.ContainerID] = slices.DeleteFunc(r.candidates[a.ContainerID], func(c *Slot) bool { return c == sl })
	r.bind(sl, &a, len(match) > 1, now)
}

// bindContainer makes a the session of its container's processes.
func (r *Registry) bindContainer(a Announcement, now time.Time) {
	if r.containers[a.ContainerID] != nil {
		return
	}
	sl := &Slot{started: now}
	r.bind(sl, &a, false, now)
	r.containers[a.ContainerID] = sl
	for _, c := range r.candidates[a.ContainerID] {
		if c.Session() == nil {
			c.s.Store(sl.Session())
		}
	}
	delete(r.candidates, a.ContainerID)
	delete(r.pending, a.ContainerID)
}

// Confirm records the audit ID of session id.
func (r *Registry) Confirm(c Confirmation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.byID[c.ID]; ok {
		if _, known := s.AuditIDValue(); !known {
			s.auditID.Store(&c.AuditID)
			r.signal()
		}
		return
	}
	r.early[c.ID] = early{auditID: c.AuditID, at: r.now()}
}

func (r *Registry) bind(sl *Slot, a *Announcement, ambiguous bool, now time.Time) {
	s := &Session{Announcement: *a, Ambiguous: ambiguous || sl.ambiguous, Bound: now}
	if a.AuditID != "" {
		s.auditID.Store(&a.AuditID)
	} else if e, ok := r.early[a.ID]; ok {
		s.auditID.Store(&e.auditID)
		delete(r.early, a.ID)
	}
	r.byID[a.ID] = s
	sl.s.Store(s)
	r.signal()
	if r.report != nil {
		r.report(Binding{ID: a.ID, ContainerID: a.ContainerID, Time: now, Ambiguous: s.Ambiguous, Announcement: *a})
	}
}

// expire forgets what waited longer than the window. Bound sessions are
// kept as long as that, for their confirmation.
func (r *Registry) expire(now time.Time) {
	old := func(t time.Time) bool { return now.Sub(t) > r.window }
	for cid, anns := range r.pending {
		anns = slices.DeleteFunc(anns, func(a *pendingAnn) bool { return old(a.Time) })
		if len(anns) == 0 {
			delete(r.pending, cid)
		} else {
			r.pending[cid] = anns
		}
	}
	for cid, cands := range r.candidates {
		cands = slices.DeleteFunc(cands, func(sl *Slot) bool { return old(sl.started) })
		if len(cands) == 0 {
			delete(r.candidates, cid)
		} else {
			r.candidates[cid] = cands
		}
	}
	for id, s := range r.byID {
		if old(s.Bound) && r.containers[s.ContainerID] == nil {
			delete(r.byID, id)
		}
	}
	for cid, sl := range r.containers {
		if now.Sub(sl.started) > debugLifetime {
			delete(r.containers, cid)
			delete(r.byID, sl.Session().ID)
		}
	}
	for id, e := range r.early {
		if old(e.at) {
			delete(r.early, id)
		}
	}
}
