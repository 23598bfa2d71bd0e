package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/lifecycle"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/store"
)

// Options configure a Service.
type Options struct {
	Config   *config.Config
	Hostname string
	Stdout   io.Writer
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Reopen, when set, reopens the file outputs at every receive (SIGHUP).
	Reopen <-chan os.Signal
	// Outputs, when set, are shared with other parts of the process
	// (peregrine run), which runs them; otherwise the service builds and
	// runs its own.
	Outputs *output.Outputs
	// Agents are node agents in this process (peregrine run): the exec
	// sessions admission and audit announce go to them too.
	Agents []*session.Registry
	// Store is the alert history when the caller runs it beside the
	// Outputs it gave (peregrine run); otherwise the service opens and
	// runs its own, when store.enabled.
	Store *store.Store
}

// Service is `peregrine serve`, built: rules compiled, certificates
// loaded, listeners bound. Serve runs it.
type Service struct {
	log         *slog.Logger
	outputs     *output.Outputs
	ownsOutputs bool
	store       *store.Store // nil: store.enabled is off
	ownsStore   bool
	streamsEnd  chan struct{}  // closed when the web listener stops: /api/v1/stream answers end
	pods        *kube.Pods     // nil without a cluster
	sessions    *sessionRouter // nil when exec_sessions is off
	handler     *auditHandler
	workers     []*audit.Evaluator
	// the listeners; nil when off (web and audit are always on)
	audit, web, admission, agents *endpoint
	background                    lifecycle.Stage // certificate rotation and reloads, watches, session retries
	caBundle                      []byte          // what signs the admission certificate, when known
	replica                       string          // this replica's id: the hostname and a random suffix
	rules                         []ruleInfo      // the loaded rules, for the UI
	ready                         atomic.Bool
}

// Run builds the service and serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	s, err := New(ctx, o)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New builds the service; ctx bounds the cluster calls it makes (the
// managed CA). On error, nothing it opened is left open.
func New(ctx context.Context, o Options) (_ *Service, err error) {
	s := &Service{log: o.Log, outputs: o.Outputs, store: o.Store, replica: replicaID(o.Hostname)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	c := o.Config
	set, err := inspect.LoadValid(c.RulesFiles)
	if err != nil {
		return nil, err
	}
	s.rules = ruleInfos(set)
	if s.outputs == nil {
		if err := s.buildOutputs(o); err != nil {
			return nil, err
		}
	}
	opts := c.EngineOptions()
	s.workers = make([]*audit.Evaluator, max(1, c.K8sAudit.Workers))
	for i := range s.workers {
		if s.workers[i], err = audit.NewEvaluator(set, opts, o.Hostname); err != nil {
			return nil, fmt.Errorf("compile rules: %w", err)
		}
	}
	if err := s.build(ctx, o, set); err != nil {
		return nil, err
	}
	o.Log.Info("rules loaded", "rules", len(set.Rules), "k8s_audit_rules", len(s.workers[0].Rules()))
	return s, nil
}

// buildOutputs builds the service's own outputs, the store among them.
func (s *Service) buildOutputs(o Options) (err error) {
	if s.store, err = OpenStore(o.Config, o.Log, o.Registry); err != nil {
		return err
	}
	s.ownsStore = s.store != nil
	var extra []output.Sink
	if s.store != nil {
		extra = append(extra, s.store)
	}
	env := output.Env{Stdout: o.Stdout, Registry: o.Registry, Log: o.Log, Reopen: o.Reopen}
	if s.outputs, err = output.Build(o.Config, env, extra...); err != nil {
		return err
	}
	s.ownsOutputs = true
	return nil
}

// build sets up the cluster's parts and the listeners, in the order they
// need each other: the agents' hub before the session router that sends
// to it, the router before the admission webhook that announces to it.
func (s *Service) build(ctx context.Context, o Options, set *rules.Set) error {
	c := o.Config
	client, err := kube.NewClient(c.Kubernetes.Kubeconfig)
	if err != nil {
		return err
	}
	if client != nil {
		s.pods = kube.WatchPods(client)
		s.background = append(s.background, lifecycle.Func(s.pods.Start))
	}
	cl := cluster{client: client}
	managed, err := s.manageCerts(ctx, c, cl, o.Log)
	if err != nil {
		return err
	}
	if err := s.addAudit(c, managed, o); err != nil {
		return err
	}
	if err := s.addWeb(c, o.Registry); err != nil {
		return err
	}
	var remote streamingAgents
	if c.Agents.Enabled {
		hub, err := s.addAgents(c, cl, managed, o)
		if err != nil {
			return err
		}
		remote = hub
	}
	if c.ExecSessions.Enabled {
		s.sessions = newSessionRouter(s.pods, o.Agents, remote, o.Registry, o.Log)
		for _, r := range o.Agents { // peregrine run: the agents in this process report here
			r.ReportBindings(s.recordBinding)
		}
		s.sessions.history = s.store
		s.background = append(s.background, lifecycle.Loop(s.sessions.Start))
	}
	if c.Admission.Enabled {
		return s.addAdmission(c.Admission, set, managed, o)
	}
	return nil
}

// close closes what a service that will not serve opened.
func (s *Service) close() {
	if s.ownsOutputs {
		s.outputs.Close()
	}
	if s.ownsStore {
		s.store.Release()
	}
	for _, e := range []*endpoint{s.audit, s.web, s.admission, s.agents} {
		if e != nil {
			e.ln.Close()
		}
	}
}

// Addrs are where a service listens; nil for a listener that is off.
type Addrs struct {
	Audit, Web, Admission, Agents net.Addr
}

// Addrs says where the service listens (ports chosen by the system too).
func (s *Service) Addrs() Addrs {
	addr := func(e *endpoint) net.Addr {
		if e == nil {
			return nil
		}
		return e.ln.Addr()
	}
	return Addrs{Audit: addr(s.audit), Web: addr(s.web), Admission: addr(s.admission), Agents: addr(s.agents)}
}

// CABundle is what signs the admission webhook's certificate, for the
// webhook configuration's caBundle; nil when not known (from files).
func (s *Service) CABundle() []byte { return s.caBundle }

// Pods is the pod watch; nil without a cluster.
func (s *Service) Pods() *kube.Pods { return s.pods }

// Serve runs the service until ctx ends, then drains, inside out: the
// audit, admission and agents listeners stop, the workers evaluate what is
// queued, the web listener (health, metrics) stops, and the outputs
// deliver what they hold.
func (s *Service) Serve(ctx context.Context) error {
	var outputs lifecycle.Stage
	if s.ownsOutputs {
		outputs = lifecycle.Stage{lifecycle.Loop(s.outputs.Start)}
	}
	var workers lifecycle.Stage
	for _, ev := range s.workers {
		workers = append(workers, lifecycle.Loop(func(ctx context.Context) { s.evaluate(ctx, ev) }))
	}
	front := append(lifecycle.Stage{lifecycle.Loop(s.readiness)}, s.background...)
	for _, e := range []*endpoint{s.audit, s.admission, s.agents} {
		if e != nil {
			front = append(front, e)
		}
	}
	var history lifecycle.Stage
	if s.ownsStore {
		history = lifecycle.Stage{s.store}
	}
	err := lifecycle.Run(ctx, history, outputs, lifecycle.Stage{s.web}, workers, front)
	s.log.Info("stopped")
	return err
}

// readiness makes /readyz answer ready while the listeners serve.
func (s *Service) readiness(ctx context.Context) {
	s.ready.Store(true)
	a := s.Addrs()
	s.log.Info("serving", "k8s_audit", a.Audit.String(), "webserver", a.Web.String(), "admission", addrOf(a.Admission))
	<-ctx.Done()
	s.ready.Store(false)
}

func addrOf(a net.Addr) string {
	if a == nil {
		return "disabled"
	}
	return a.String()
}

// evaluate is one worker: it evaluates queued batches until ctx ends and
// the queue is drained. The first worker to stop closes the queue.
func (s *Service) evaluate(ctx context.Context, ev *audit.Evaluator) {
	defer context.AfterFunc(ctx, s.handler.queue.close)()
	evaluate(s.handler.queue, ev, s.outputs, s.handler.metrics, s.sessions)
}

// replicaID names this process among the service's replicas: agents
// link to each replica once, whatever URLs name it.
func replicaID(hostname string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hostname + "-" + hex.EncodeToString(b)
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
