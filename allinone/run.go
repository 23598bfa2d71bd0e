package allinone

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/agent"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/lifecycle"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/server"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/store"
)

// Options configure a Node.
type Options struct {
	Config   *config.Config
	Hostname string
	Stdout   io.Writer
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Reopen, when set, reopens the file outputs at every receive (SIGHUP).
	Reopen <-chan os.Signal
}

// Node is `peregrine run`, built: the service and, where the machine
// allows it, the node agent, sharing the outputs, the pod watch and exec
// sessions.
type Node struct {
	log     *slog.Logger
	outputs *output.Outputs
	history *store.Store // nil: store.enabled is off
	service *server.Service
	agent   *agent.Agent // nil: no kernel capture here (no root, no BTF)
}

// Run builds the node and runs it until ctx ends.
func Run(ctx context.Context, o Options) error {
	n, err := New(ctx, o)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// New builds the service, then the agent. Without root or BTF the agent
// cannot be built, and the service goes on alone, with a warning.
func New(ctx context.Context, o Options) (*Node, error) {
	history, err := server.OpenStore(o.Config, o.Log, o.Registry)
	if err != nil {
		return nil, err
	}
	var extra []output.Sink
	if history != nil {
		extra = append(extra, history)
	}
	outs, err := output.Build(o.Config, output.Env{Stdout: o.Stdout, Registry: o.Registry, Log: o.Log, Reopen: o.Reopen}, extra...)
	if err != nil {
		release(history)
		return nil, err
	}
	var sessions *session.Registry
	var local []*session.Registry
	if o.Config.ExecSessions.Enabled {
		sessions = session.NewRegistry(o.Config.ExecSessions.Window)
		local = append(local, sessions)
	}
	svc, err := server.New(ctx, server.Options{Config: o.Config, Hostname: o.Hostname, Log: o.Log, Registry: o.Registry,
		Outputs: outs, Agents: local, Store: history})
	if err != nil {
		outs.Close()
		release(history)
		return nil, err
	}
	n := &Node{log: o.Log, outputs: outs, history: history, service: svc}
	agentOpts := agent.Options{Config: o.Config, Hostname: o.Hostname, Log: o.Log, Registry: o.Registry,
		Outputs: outs, Sessions: sessions}
	if pods := svc.Pods(); pods != nil {
		agentOpts.Pods = podLookup{pods}
	}
	if n.agent, err = agent.New(agentOpts); err != nil {
		o.Log.Warn("node agent not running; serving audit and admission only", "err", err)
	}
	return n, nil
}

// Service is the node's service (where it listens).
func (n *Node) Service() *server.Service { return n.service }

// Capturing reports whether the node agent runs: false where the machine
// does not allow kernel capture.
func (n *Node) Capturing() bool { return n.agent != nil }

// Run runs the service and the agent until ctx ends, then the shared
// outputs deliver what both raised. The agent failing does not stop the
// service.
func (n *Node) Run(ctx context.Context) error {
	parts := lifecycle.Stage{lifecycle.Func(n.service.Serve)}
	if n.agent != nil {
		parts = append(parts, lifecycle.Loop(func(ctx context.Context) {
			if err := n.agent.Run(ctx); err != nil {
				n.log.Warn("node agent stopped; serving audit and admission only", "err", err)
			}
		}))
	}
	var history lifecycle.Stage
	if n.history != nil {
		history = lifecycle.Stage{n.history}
	}
	return lifecycle.Run(ctx, history, lifecycle.Stage{lifecycle.Loop(n.outputs.Start)}, parts)
}

// release closes a store that will not run.
func release(s *store.Store) {
	if s != nil {
		s.Release()
	}
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
