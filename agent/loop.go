package agent

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/bpf"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

type rule = engine.Rule[runtime.Event]

// loop turns records into events and alerts. Rules that read k8s.exec.*
// are held back for an event whose process may still be bound to an exec
// session (announced late, from an audit event) or whose session still
// lacks its audit ID, up to the configured wait; the rest are evaluated at
// once.
type loop struct {
	mu       sync.Mutex // the engine evaluates one event at a time: handle and releaseHeld share it
	table    *runtime.Table
	engine   *engine.Engine[runtime.Event]
	outs     *output.Outputs
	hostname string
	ev       runtime.Event
	num      uint64
	matches  []*rule
	record   *runtime.Recorder
	log      *slog.Logger

	sessions           *session.Registry // nil: no correlation, nothing is held
	wait               time.Duration
	needsSession       func(*rule) bool
	needsAudit         func(*rule) bool
	held               []heldEvent
	heldTotal, expired prometheus.Counter
}

// heldEvent is an event some rules wait with.
type heldEvent struct {
	ev    runtime.Event
	rules []*rule
	until time.Time
}

// maxHeld bounds the held events; past it, rules are evaluated at once
// (without the session) rather than waiting.
const maxHeld = 4096

func newLoop(table *runtime.Table, eng *engine.Engine[runtime.Event], outs *output.Outputs, o Options) *loop {
	l := &loop{table: table, engine: eng, outs: outs, hostname: o.Hostname, log: o.Log, sessions: o.Sessions,
		wait: o.Config.ExecSessions.Wait}
	l.ev.Hostname = o.Hostname
	if o.Record != nil {
		l.record = runtime.NewRecorder(o.Record)
	}
	// Which rules wait for what is known at load time, not per event.
	session, audit := map[*rule]bool{}, map[*rule]bool{}
	for _, r := range eng.Rules() {
		session[r] = slices.ContainsFunc(execFields, r.Reads)
		audit[r] = r.Reads("k8s.exec.auditid")
	}
	l.needsSession = func(r *rule) bool { return session[r] }
	l.needsAudit = func(r *rule) bool { return audit[r] }
	l.heldTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_exec_alerts_held_total",
		Help: "Events whose k8s.exec.* rules waited for their exec session."})
	l.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_exec_alerts_expired_total",
		Help: "Held events evaluated without their session: the wait ran out (or too many were held)."})
	if o.Registry != nil {
		o.Registry.MustRegister(l.heldTotal, l.expired)
	}
	return l
}

// execFields are the fields whose values an exec session supplies.
var execFields = []string{"k8s.exec.user", "k8s.exec.groups", "k8s.exec.command", "k8s.exec.id",
	"k8s.exec.kind", "k8s.exec.auditid", "k8s.exec.time", "k8s.exec.ambiguous"}

func (l *loop) handle(rec *bpf.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.table.Apply(rec, &l.ev) {
		return
	}
	l.num++
	l.ev.Num = l.num
	if l.record != nil {
		if err := l.record.Write(&l.ev); err != nil {
			l.log.Error("recording stopped", "err", err)
			l.record = nil
		}
	}
	skip, candidates := l.holdFor(&l.ev), l.engine.Candidates(&l.ev)
	l.matches = l.engine.MatchRules(&l.ev, candidates, skip, l.matches[:0])
	publishAlerts(l.matches, &l.ev, l.hostname, l.outs.Publish)
	if skip == nil {
		return
	}
	var wait []*rule
	for _, r := range candidates {
		if skip(r) {
			wait = append(wait, r)
		}
	}
	l.hold(wait)
}

// holdFor says which rules must wait for this event: nil when none.
func (l *loop) holdFor(ev *runtime.Event) func(*rule) bool {
	if l.sessions == nil || ev.Thread == nil || ev.Thread.Exec == nil {
		return nil
	}
	slot := ev.Thread.Exec
	s := slot.Session()
	switch {
	case s == nil && slot.Pending(time.Now(), l.sessions.Window()):
		return l.needsSession
	case s != nil:
		if _, known := s.AuditIDValue(); !known {
			return l.needsAudit
		}
	}
	return nil
}

func (l *loop) hold(rules []*rule) {
	if len(rules) == 0 {
		return
	}
	l.heldTotal.Inc()
	ev := l.ev
	ev.Args = slices.Clone(ev.Args) // the loop reuses its buffer
	if len(l.held) >= maxHeld {
		l.expired.Inc()
		l.evaluate(&heldEvent{ev: ev, rules: rules})
		return
	}
	l.held = append(l.held, heldEvent{ev: ev, rules: rules, until: time.Now().Add(l.wait)})
}

// releaseHeld evaluates held events once their session is known or their
// wait is over, until ctx ends; then it releases what is left.
func (l *loop) releaseHeld(ctx context.Context) {
	if l.sessions == nil {
		return
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			l.release(time.Time{}, true)
			return
		case <-l.sessions.Changed():
		case <-tick.C:
		}
		l.release(time.Now(), false)
	}
}

func (l *loop) release(now time.Time, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = slices.DeleteFunc(l.held, func(h heldEvent) bool {
		ready := l.holdFor(&h.ev) == nil
		if !ready && !all && now.Before(h.until) {
			return false
		}
		if !ready {
			l.expired.Inc()
		}
		l.evaluate(&h)
		return true
	})
}

func (l *loop) evaluate(h *heldEvent) {
	l.matches = l.engine.MatchRules(&h.ev, h.rules, nil, l.matches[:0])
	publishAlerts(l.matches, &h.ev, l.hostname, l.outs.Publish)
}
