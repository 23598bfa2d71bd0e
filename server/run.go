package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/stream"
	"github.com/peregrine-sec/peregrine/webhook"
)

// Options configure Run.
type Options struct {
	Config   *config.Config
	Hostname string
	Stdout   io.Writer
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Reopen asks the file outputs to reopen their files (SIGHUP).
	Reopen <-chan struct{}
	// Listening, when set, is told the bound addresses once serving.
	Listening func(auditAddr, webAddr net.Addr)
	// AdmissionListening, when set, is told the admission address and the
	// generated CA bundle (nil when certificates come from files).
	AdmissionListening func(addr net.Addr, caBundle []byte)
	// Outputs, when set, are shared with other parts of the process (peregrine
	// run); the caller starts and stops them. Otherwise Run builds its own.
	Outputs *output.Outputs
	// Sessions, when set, receives the exec sessions that admission and
	// audit announce; otherwise Run makes one when exec_sessions is on.
	Sessions *SessionRouter
	// Pods, when set, is the pod watch (shared, peregrine run); otherwise
	// Run starts one when a cluster is configured.
	Pods *kube.Pods
	// AgentsListening, when set, is told the agents' listener address.
	AgentsListening func(net.Addr)
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return "disabled"
	}
	return ln.Addr().String()
}

// Run serves until ctx ends, then drains: listeners stop accepting, queued
// events are evaluated, outputs deliver what they hold.
func Run(ctx context.Context, o Options) error {
	c := o.Config
	set, err := inspect.LoadValid(c.RulesFiles)
	if err != nil {
		return err
	}
	outs, files := o.Outputs, []*output.File(nil)
	if outs == nil {
		if outs, files, err = output.Build(c, o.Stdout, o.Registry, o.Log); err != nil {
			return err
		}
	}
	opts := engine.DefaultOptions()
	opts.MinPriority, opts.MatchAll = c.Priority, c.RuleMatching == "all"
	workers := make([]*audit.Evaluator, max(1, c.K8sAudit.Workers))
	for i := range workers {
		if workers[i], err = audit.NewEvaluator(set, opts, o.Hostname); err != nil {
			return fmt.Errorf("compile rules: %w", err)
		}
	}
	var bg sync.WaitGroup // what managedCerts starts: stopped and waited for when Run returns
	defer bg.Wait()
	bgCtx, stopBg := context.WithCancel(ctx)
	defer stopBg()
	managed, err := managedCerts(bgCtx, c, o.Log, &bg)
	if err != nil {
		return err
	}
	s, err := newServers(c, o, managed)
	if err != nil {
		return err
	}
	if o.Pods == nil {
		if o.Pods, err = kube.Watch(ctx, c.Kubernetes.Kubeconfig, o.Log); err != nil {
			s.close()
			return err
		}
	}
	if o.Sessions == nil && c.ExecSessions.Enabled {
		o.Sessions = NewSessionRouter(o.Pods, nil, o.Registry, o.Log)
	}
	if c.Admission.Enabled {
		if err := s.addAdmission(c.Admission, set, outs, o); err != nil {
			s.close()
			return err
		}
	}
	if c.Agents.Enabled {
		if err := s.addAgents(c.Agents, outs, o.Pods, o); err != nil {
			s.close()
			return err
		}
	}
	o.Log.Info("rules loaded", "rules", len(set.Rules), "k8s_audit_rules", len(workers[0].Rules()))
	return s.run(ctx, outs, files, workers, o)
}

func (s *servers) close() {
	for _, ln := range []net.Listener{s.auditLn, s.webLn, s.admissionLn, s.agentsLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// servers are the two listeners and what they share.
type servers struct {
	audit, web     *http.Server
	auditLn, webLn net.Listener
	admission      *http.Server // nil when disabled
	admissionLn    net.Listener
	certs          *webhook.CertSource // the admission certificate from files or generated; nil when managed
	managed        *certs.Rotating     // the service's own certificates (certificates.secret), or nil
	caBundle       []byte              // what signs the admission certificate, when known
	handler        *auditHandler
	agents         *http.Server // nil when disabled
	agentsLn       net.Listener
	hub            *stream.Hub
	ready          atomic.Bool
}

func newServers(c *config.Config, o Options, managed *certs.Rotating) (*servers, error) {
	a := c.K8sAudit
	auditAddr := net.JoinHostPort(a.ListenAddress, strconv.Itoa(a.ListenPort))
	tlsCfg, auth, err := secured("k8s_audit", auditAddr, a.ListenerAuth, managed)
	if err != nil {
		return nil, err
	}
	s := &servers{managed: managed}
	q := newQueue[*audit.Event](a.QueueSize)
	s.handler = &auditHandler{queue: q, auth: auth, maxBody: a.MaxBodyBytes, retryAfter: a.RetryAfter, log: o.Log,
		metrics: newAuditMetrics(o.Registry, func() float64 { return float64(q.len()) })}
	if s.auditLn, err = listen(auditAddr, tlsCfg); err != nil {
		return nil, err
	}
	webAddr := net.JoinHostPort(c.Webserver.ListenAddress, strconv.Itoa(c.Webserver.ListenPort))
	webTLS, err := serverTLS(c.Webserver.SSLCertificate, c.Webserver.SSLCertificate, "")
	if err != nil || !c.Webserver.SSLEnabled {
		webTLS = nil
	}
	if err != nil && c.Webserver.SSLEnabled {
		return nil, err
	}
	if s.webLn, err = listen(webAddr, webTLS); err != nil {
		s.auditLn.Close()
		return nil, err
	}
	s.audit = &http.Server{Handler: s.auditRouter(a.Endpoint), ReadHeaderTimeout: 10 * time.Second}
	s.web = &http.Server{Handler: s.webRouter(c.Webserver.K8sHealthzEndpoint, o.Registry), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

func listen(addr string, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return tlsListener(ln, cfg), nil
}

func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener {
	if cfg == nil {
		return ln
	}
	return tls.NewListener(ln, cfg)
}

func (s *servers) auditRouter(endpoint string) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.POST(endpoint, s.handler.serve)
	return r
}

func (s *servers) run(ctx context.Context, outs *output.Outputs, files []*output.File, workers []*audit.Evaluator, o Options) error {
	stopOutputs := startOutputs(ctx, outs, o.Outputs != nil)
	var wg sync.WaitGroup
	for _, ev := range workers {
		wg.Go(func() { evaluate(s.handler.queue, ev, outs, s.handler.metrics, o.Sessions) })
	}
	go reopenOnSignal(ctx, o.Reopen, files, o.Log)
	errs := make(chan error, 4)
	for _, p := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.audit, s.auditLn}, {s.web, s.webLn}} {
		go func() {
			if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	if s.admission != nil {
		go func() {
			if err := s.admission.Serve(s.admissionLn); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
		if s.certs != nil {
			go s.certs.Watch(ctx, 5*time.Second, o.Log)
		}
	}
	if s.agents != nil {
		go func() {
			if err := s.agents.Serve(s.agentsLn); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
		if o.AgentsListening != nil {
			o.AgentsListening(s.agentsLn.Addr())
		}
	}
	s.ready.Store(true)
	o.Log.Info("serving", "k8s_audit", s.auditLn.Addr().String(), "webserver", s.webLn.Addr().String(),
		"admission", addrOf(s.admissionLn))
	if o.AdmissionListening != nil && s.admissionLn != nil {
		o.AdmissionListening(s.admissionLn.Addr(), s.caBundle)
	}
	if o.Listening != nil { // last: callers wait on it
		o.Listening(s.auditLn.Addr(), s.webLn.Addr())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	s.ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.audit.Shutdown(shutdownCtx)
	if s.admission != nil {
		_ = s.admission.Shutdown(shutdownCtx)
	}
	if s.agents != nil {
		s.hub.Close() // streams end; agents keep what was not acknowledged
		_ = s.agents.Shutdown(shutdownCtx)
	}
	s.handler.queue.close()
	wg.Wait() // every queued event evaluated
	_ = s.web.Shutdown(shutdownCtx)
	stopOutputs()
	o.Log.Info("stopped")
	return runErr
}

func reopenOnSignal(ctx context.Context, reopen <-chan struct{}, files []*output.File, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reopen:
			for _, f := range files {
				if err := f.Reopen(); err != nil {
					log.Error("reopening alert file", "err", err)
				}
			}
		}
	}
}

// startOutputs runs outs until the returned stop is called (which waits
// for them to drain); shared outputs belong to the caller.
func startOutputs(ctx context.Context, outs *output.Outputs, shared bool) (stop func()) {
	if shared {
		return func() {}
	}
	outCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- outs.Start(outCtx) }()
	return func() { cancel(); <-done }
}
