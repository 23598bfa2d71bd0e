package allinone

import (
	"context"
	"io"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/agent"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/server"
	"github.com/peregrine-sec/peregrine/session"
)

// Options configure Run.
type Options struct {
	Config   *config.Config
	Hostname string
	Stdout   io.Writer
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Outputs, when set, are started and stopped by the caller; otherwise
	// Run builds them from the configuration.
	Outputs *output.Outputs
	// AgentReady, Listening and AdmissionListening are told when the parts
	// are up (tests).
	AgentReady         func()
	Listening          func(auditAddr, webAddr net.Addr)
	AdmissionListening func(addr net.Addr, caBundle []byte)
}

// Run serves and captures until ctx ends. Without root or BTF the agent
// does not run and the service goes on alone, with a warning.
func Run(ctx context.Context, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Outputs == nil {
		outs, _, err := output.Build(o.Config, o.Stdout, o.Registry, o.Log)
		if err != nil {
			return err
		}
		outCtx, stopOutputs := context.WithCancel(context.WithoutCancel(ctx))
		outDone := make(chan error, 1)
		go func() { outDone <- outs.Start(outCtx) }()
		defer func() { stopOutputs(); <-outDone }()
		o.Outputs = outs
	}
	pods, err := kube.Watch(ctx, o.Config.Kubernetes.Kubeconfig, o.Log)
	if err != nil {
		return err
	}
	var sessions *session.Registry
	var router *server.SessionRouter
	if o.Config.ExecSessions.Enabled {
		sessions = session.NewRegistry(o.Config.ExecSessions.Window)
		router = server.NewSessionRouter(pods, []*session.Registry{sessions}, o.Registry, o.Log)
	}
	agentOpts := agent.Options{Config: o.Config, Hostname: o.Hostname, Log: o.Log, Registry: o.Registry,
		Outputs: o.Outputs, Sessions: sessions, Ready: o.AgentReady}
	if pods != nil {
		agentOpts.Pods = podLookup{pods}
	}
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		if err := agent.Run(ctx, agentOpts); err != nil && ctx.Err() == nil {
			// The service is still useful without kernel capture (no root, no BTF).
			o.Log.Warn("node agent not running; serving audit and admission only", "err", err)
		}
	}()
	err = server.Run(ctx, server.Options{Config: o.Config, Hostname: o.Hostname, Stdout: o.Stdout, Log: o.Log,
		Registry: o.Registry, Outputs: o.Outputs, Sessions: router, Pods: pods, Listening: o.Listening,
		AdmissionListening: o.AdmissionListening})
	cancel()
	<-agentDone
	return err
}

// podLookup shows the pod watch to the agent's process table.
type podLookup struct{ pods *kube.Pods }

func (p podLookup) Lookup(id string) (runtime.PodInfo, bool) {
	c, ok := p.pods.ByID(id)
	if !ok {
		return runtime.PodInfo{}, false
	}
	return server.PodInfo(c), true
}
