package server

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/session"
)

// SessionRouter takes exec sessions from admission (announced before the
// process starts) and audit (confirmations, or late announcements without
// a webhook), finds the container and node from the pod watch, and hands
// them to the agents that bind them.
type SessionRouter struct {
	pods   *kube.Pods
	agents []*session.Registry // agents in this process (peregrine run)
	remote Remote              // agents streaming to this service; nil: none
	log    *slog.Logger
	routed *prometheus.CounterVec
	// how long, and how often, an announcement the pod watch cannot
	// place is tried again
	resolveFor, resolveEvery time.Duration
}

// Remote reaches the agents of other nodes.
type Remote interface {
	Announce(session.Announcement) bool // false: no agent for the node
	Confirm(session.Confirmation)
}

// SetRemote routes to streaming agents too; call before serving.
func (r *SessionRouter) SetRemote(remote Remote) { r.remote = remote }

// NewSessionRouter routes with pods (nil: no cluster, nothing resolves) to
// the agents given.
func NewSessionRouter(pods *kube.Pods, agents []*session.Registry, reg prometheus.Registerer, log *slog.Logger) *SessionRouter {
	r := &SessionRouter{pods: pods, agents: agents, log: log, resolveFor: defaultResolveFor, resolveEvery: defaultResolveEvery,
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
)

// Announce routes an exec announced by source.
func (r *SessionRouter) Announce(a session.Announcement, source string) {
	r.announce(a, source, time.Now().Add(r.resolveFor))
}

func (r *SessionRouter) announce(a session.Announcement, source string, until time.Time) {
	c, ok := (*kube.Container)(nil), false
	if r.pods != nil {
		c, ok = r.pods.ByName(a.Namespace, a.Pod, a.Container)
	}
	if (!ok || c.ID == "") && r.pods != nil && time.Now().Before(until) {
		time.AfterFunc(r.resolveEvery, func() { r.announce(a, source, until) })
		return
	}
	if !ok || c.ID == "" {
		r.routed.WithLabelValues(source, "unresolved").Inc()
		r.log.Debug("exec session for an unknown container", "namespace", a.Namespace, "pod", a.Pod, "container", a.Container)
		return
	}
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
	r.routed.WithLabelValues(source, outcome).Inc()
}

// FromAudit confirms or announces the session an audit event is about.
func (r *SessionRouter) FromAudit(e *audit.Event) {
	ann, conf, confirmed, ok := audit.ExecSession(e)
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
