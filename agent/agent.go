package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/bpf"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/lifecycle"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

// Options configure an Agent.
type Options struct {
	Config   *config.Config
	Hostname string
	Stdout   io.Writer
	Log      *slog.Logger
	Registry *prometheus.Registry
	Procfs   string // default /proc
	// Reopen, when set, reopens the file outputs at every receive (SIGHUP).
	Reopen <-chan os.Signal
	// Outputs, when set, are shared (peregrine run) and run by the caller.
	Outputs *output.Outputs
	// Record, when set, receives every captured event (a capture file for
	// peregrine replay --syscalls).
	Record io.Writer
	// Sessions, when set, receives the exec sessions the server announces
	// and binds them to processes (k8s.exec.*).
	Sessions *session.Registry
	// Pods, when set, describes containers from the cluster's view.
	Pods runtime.Pods
}

// Agent is `peregrine agent`, built: rules compiled, probes attached,
// running processes scanned. Run runs it once.
type Agent struct {
	names       *runtime.Names
	link        *serverLink // nil: standalone
	outputs     *output.Outputs
	ownsOutputs bool
	capture     *bpf.Capture
	loop        *loop
}

// Run builds the agent and captures until ctx ends.
func Run(ctx context.Context, o Options) error {
	a, err := New(o)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New builds the agent. It needs root (or the capabilities the DaemonSet
// gives) and BTF, for the probes; once it returns, they capture.
func New(o Options) (*Agent, error) {
	set, err := inspect.LoadValid(o.Config.RulesFiles)
	if err != nil {
		return nil, err
	}
	a := &Agent{names: runtime.NewNames(runtime.SystemLookup, time.Minute, o.Log), outputs: o.Outputs}
	eng, err := NewEngine(set, o.Config, runtime.Source{Names: a.names})
	if err != nil {
		return nil, err
	}
	if o.Sessions == nil && o.Config.Server.URL != "" && o.Config.ExecSessions.Enabled {
		o.Sessions = session.NewRegistry(o.Config.ExecSessions.Window)
	}
	if a.link, err = connect(o, o.Sessions); err != nil {
		return nil, err
	}
	if a.link != nil && o.Pods == nil {
		o.Pods = a.link.pods
	}
	capture, table, err := attach(eng, o)
	if err != nil {
		return nil, err
	}
	if a.outputs == nil {
		if a.outputs, err = a.buildOutputs(o); err != nil {
			capture.Close()
			return nil, err
		}
		a.ownsOutputs = true
	}
	a.capture, a.loop = capture, newLoop(table, eng, a.outputs, o)
	return a, nil
}

// buildOutputs opens the configured outputs, and the stream to the
// service when there is one.
func (a *Agent) buildOutputs(o Options) (*output.Outputs, error) {
	var extra []output.Sink
	if a.link != nil {
		extra = append(extra, a.link.client)
	}
	return output.Build(o.Config, output.Env{Stdout: o.Stdout, Registry: o.Registry, Log: o.Log, Reopen: o.Reopen}, extra...)
}

// Run captures and evaluates until ctx ends, then stops inside out: the
// capture drains the ring buffer, held alerts go out, the outputs deliver
// them, and the stream to the service sends what it has not had
// acknowledged. It releases the probes when it returns.
func (a *Agent) Run(ctx context.Context) error {
	defer a.capture.Close()
	var link, outputs lifecycle.Stage
	if a.link != nil {
		link = lifecycle.Stage{lifecycle.Loop(a.link.client.Start)}
	}
	if a.ownsOutputs {
		outputs = lifecycle.Stage{lifecycle.Loop(a.outputs.Start)}
	}
	return lifecycle.Run(ctx, link, outputs,
		lifecycle.Stage{lifecycle.Loop(a.names.Start), lifecycle.Loop(a.loop.releaseHeld)},
		lifecycle.Stage{lifecycle.Func(func(ctx context.Context) error { return a.capture.Run(ctx, a.loop.handle) })})
}

// attach loads the probe for what the rules need, then scans /proc: a
// process started in between is both scanned and seen by the probe, never
// missed.
func attach(eng *engine.Engine[runtime.Event], o Options) (*bpf.Capture, *runtime.Table, error) {
	procfs := o.Procfs
	if procfs == "" {
		procfs = "/proc"
	}
	env := eng.Uses("proc.env")
	syscalls := needed(eng.Rules())
	capture, err := bpf.Load(bpf.Options{Syscalls: syscalls, Execveat: tellsExecveat(eng.Rules()), Env: env, Log: o.Log})
	if err != nil {
		return nil, nil, err
	}
	table := runtime.NewTable(procfs)
	table.Env, table.Sessions, table.Pods = env, o.Sessions, o.Pods
	if err := table.Scan(); err != nil {
		capture.Close()
		return nil, nil, fmt.Errorf("scan processes: %w", err)
	}
	registerCounters(o.Registry, capture)
	o.Log.Info("agent started", "rules", len(eng.Rules()), "syscalls", syscalls, "processes", table.Len())
	if missing := uncaptured(eng.Rules()); len(missing) > 0 {
		o.Log.Warn("rules name event types the probe does not capture yet; they cannot match those",
			"event_types", missing)
	}
	return capture, table, nil
}

// SuggestedOutput is appended to every syscall rule's output, as Falco does
// with append_output's suggested_output for the container plugin's fields.
const SuggestedOutput = "container_id=%container.id container_image_repository=%container.image.repository " +
	"container_image_tag=%container.image.tag container_name=%container.name k8s_ns_name=%k8s.ns.name k8s_pod_name=%k8s.pod.name"

// needed is the syscalls the rules can match that the probe captures;
// rules that must see every event type need them all.
func needed(rs []*engine.Rule[runtime.Event]) []string {
	var out []string
	for _, s := range bpf.Syscalls() {
		for _, r := range rs {
			if r.AllEvttypes != slices.Contains(r.Evttypes, s) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// tellsExecveat reports whether a rule names one of execve and execveat
// without the other: only then does matching depend on telling them apart.
func tellsExecveat(rs []*engine.Rule[runtime.Event]) bool {
	for _, r := range rs {
		if !r.AllEvttypes && slices.Contains(r.Evttypes, "execve") != slices.Contains(r.Evttypes, "execveat") {
			return true
		}
	}
	return false
}

// uncaptured is the event types rules name that no record becomes, so that
// operators know which conditions cannot match on this agent.
func uncaptured(rs []*engine.Rule[runtime.Event]) []string {
	var out []string
	for _, r := range rs {
		if r.AllEvttypes {
			continue
		}
		for _, s := range r.Evttypes {
			// Execs come from the process lifecycle, always captured.
			if s != "execve" && s != "execveat" && !bpf.Supported(s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Evaluate matches ev against the syscall rules and publishes an alert per
// match; replay shares it.
func Evaluate(e *engine.Engine[runtime.Event], ev *runtime.Event, hostname string, scratch []*engine.Rule[runtime.Event],
	publish func(*output.Alert)) []*engine.Rule[runtime.Event] {
	scratch = e.Match(ev, scratch)
	publishAlerts(scratch, ev, hostname, publish)
	return scratch
}

// publishAlerts publishes an alert for each matched rule.
func publishAlerts(matched []*engine.Rule[runtime.Event], ev *runtime.Event, hostname string, publish func(*output.Alert)) {
	for _, r := range matched {
		publish(output.Matched(r, ev, fields.SourceSyscall, hostname, time.Unix(0, ev.Time)))
	}
}

// NewEngine compiles the syscall rules of set as the agent runs them.
// src.Names may be nil (offline replay): fd.*ip.name checks then match
// nothing.
func NewEngine(set *rules.Set, c *config.Config, src runtime.Source) (*engine.Engine[runtime.Event], error) {
	opts := c.EngineOptions()
	// Falco's default append_output suggests the container fields first.
	opts.Extra = append([]engine.ExtraOutput{{Output: SuggestedOutput}}, opts.Extra...)
	e, err := engine.New[runtime.Event](src, fields.Syscall(), set, opts)
	if err != nil {
		return nil, fmt.Errorf("compile syscall rules: %w", err)
	}
	return e, nil
}

func registerCounters(reg prometheus.Registerer, c *bpf.Capture) {
	read := func(pick func(bpf.Counters) uint64) func() float64 {
		return func() float64 {
			n, _ := c.Counters()
			return float64(pick(n))
		}
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "peregrine_kernel_events_total",
			Help: "Events the eBPF probe sent to the agent."}, read(func(n bpf.Counters) uint64 { return n.Sent })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "peregrine_kernel_drops_total",
			Help: "Events lost because the ring buffer was full."}, read(func(n bpf.Counters) uint64 { return n.Dropped })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "peregrine_kernel_read_failures_total",
			Help: "User-memory reads (paths, argv) that failed in the probe."}, read(func(n bpf.Counters) uint64 { return n.ReadFailures })),
	)
}
