package server

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/store"
)

// sessionRouter takes exec sessions from admission (announced before the
// process starts) and audit (confirmations, or late announcements without
// a webhook), finds the container and node from the pod watch, and hands
// them to the agents that bind them. Start retries what the pod watch
// cannot place yet.
type sessionRouter struct {
	pods   *kube.Pods
	agents []*session.Registry // agents in this process (peregrine run)
	remote streamingAgents     // agents streaming to this service; nil: none
	log    *slog.Logger
	routed *prometheus.CounterVec
	// history keeps the sessions audit events confirm or announce; nil:
	// store.enabled is off
	history *store.Store
	// how long, and how often, an announcement the pod watch cannot
	// place is tried again
	resolveFor, resolveEvery time.Duration
	// debugResolveFor is resolveFor for a debug session: its container
	// has no runtime id until the kubelet pulled its image and started it.
	debugResolveFor time.Duration

	mu      sync.Mutex
	pending []pendingAnnouncement // oldest first
	wake    chan struct{}
}

// pendingAnnouncement is one the pod watch could not place yet.
type pendingAnnouncement struct {
	a       session.Announcement
	source  string
	until   time.Time
	fetched bool // its pod was read from the apiserver already
}

// streamingAgents reaches the agents of other nodes.
type streamingAgents interface {
	Announce(session.Announcement) bool // false: no agent for the node
	Confirm(session.Confirmation)
}

// newSessionRouter routes with pods (nil: no cluster, nothing resolves) to
// the agents in this process and to remote ones (nil: none).
func newSessionRouter(pods *kube.Pods, agents []*session.Registry, remote streamingAgents, reg prometheus.Registerer, log *slog.Logger) *sessionRouter {
	r := &sessionRouter{pods: pods, agents: agents, remote: remote, log: log, wake: make(chan struct{}, 1),
		resolveFor: defaultResolveFor, resolveEvery: defaultResolveEvery, debugResolveFor: defaultDebugResolveFor,
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_exec_sessions_total",
			Help: "Exec sessions announced, by source (admission, audit) and outcome (routed; unresolved: pod or container unknown; no_agent: the node's agent is not connected)."},
			[]string{"source", "outcome"})}
	reg.MustRegister(r.routed)
	return r
}

// Resolving an announcement the pod watch cannot place yet is tried again
// for a while: the watch lags the apiserver (a pod exec'd into as soon as
// it runs, as kubectl run -i does, or a watch reconnecting after an
// apiserver restart). The process starts only after admission answers, so
// an announcement made a little later still binds it in most cases.
const (
	defaultResolveFor   = 3 * time.Second
	defaultResolveEvery = 100 * time.Millisecond
	// A debug container starts once its image is pulled: minutes, on a
	// slow registry.
	defaultDebugResolveFor = 3 * time.Minute
	maxPending             = 10000 // past this, an unplaced announcement is given up at once
)

// Announce routes an exec announced by source.
func (r *sessionRouter) Announce(a session.Announcement, source string) {
	wait := r.resolveFor
	if a.Kind == session.KindDebug {
		wait = r.debugResolveFor
	}
	p := pendingAnnouncement{a: a, source: source, until: time.Now().Add(wait)}
	if r.route(p, false) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= maxPending {
		r.giveUp(p)
		return
	}
	r.pending = append(r.pending, p)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Start retries the pending announcements until ctx ends; what is still
// pending then is counted unresolved.
func (r *sessionRouter) Start(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			r.retry(time.Time{}, true)
			return
		case <-r.wake:
		}
		for r.retry(time.Now(), false) > 0 && ctx.Err() == nil {
			r.fetchPending(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(r.resolveEvery):
			}
		}
	}
}

// fetchPending reads from the apiserver, once, the pods of the pending
// announcements: the next retry finds them even when the watch lags.
func (r *sessionRouter) fetchPending(ctx context.Context) {
	r.mu.Lock()
	pods := map[[2]string]bool{} // namespace, name
	for i := range r.pending {
		if p := &r.pending[i]; !p.fetched {
			p.fetched = true
			pods[[2]string{p.a.Namespace, p.a.Pod}] = true
		}
	}
	r.mu.Unlock()
	for p := range pods {
		fetchCtx, cancel := context.WithTimeout(ctx, time.Second)
		if err := r.pods.Fetch(fetchCtx, p[0], p[1]); err != nil {
			r.log.Debug("exec session's pod not read", "err", err)
		}
		cancel()
	}
}

// retry routes what the pod watch now places, gives up what is overdue
// (everything when last), and says how many are left.
func (r *sessionRouter) retry(now time.Time, last bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = slices.DeleteFunc(r.pending, func(p pendingAnnouncement) bool {
		return r.route(p, last || !now.Before(p.until))
	})
	return len(r.pending)
}

// route delivers p when the pod watch places it, or gives it up when
// final; it reports whether p is done with.
func (r *sessionRouter) route(p pendingAnnouncement, final bool) bool {
	c, ok := (*kube.Container)(nil), false
	if r.pods != nil {
		c, ok = r.pods.ByName(p.a.Namespace, p.a.Pod, p.a.Container)
	}
	if !ok || c.ID == "" {
		if final || r.pods == nil {
			r.giveUp(p)
			return true
		}
		return false
	}
	a := p.a
	a.ContainerID, a.PodUID, a.Node, a.Container = c.ID, c.PodUID, c.Node, c.Name
	delivered := len(r.agents) > 0
	for _, ag := range r.agents {
		ag.Announce(a)
	}
	if r.remote != nil && r.remote.Announce(a) {
		delivered = true
	}
	outcome := "routed"
	if !delivered {
		outcome = "no_agent"
	}
	r.routed.WithLabelValues(p.source, outcome).Inc()
	return true
}

func (r *sessionRouter) giveUp(p pendingAnnouncement) {
	r.routed.WithLabelValues(p.source, "unresolved").Inc()
	r.log.Debug("exec session for an unknown container", "namespace", p.a.Namespace, "pod", p.a.Pod, "container", p.a.Container)
}

// fromAudit confirms or announces the session an audit event is about.
func (r *sessionRouter) fromAudit(e *audit.Event) {
	ann, conf, confirmed, ok := audit.ExecSession(e)
	if ok && r.history != nil {
		if confirmed {
			r.history.ConfirmSession(conf.ID, conf.AuditID)
		} else {
			r.history.RecordSession(storedSession(ann, store.Unknown))
		}
	}
	switch {
	case !ok:
	case confirmed:
		for _, ag := range r.agents {
			ag.Confirm(conf)
		}
		if r.remote != nil {
			r.remote.Confirm(conf)
		}
	default:
		r.Announce(ann, "audit")
	}
}
