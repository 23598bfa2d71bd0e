package output

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Sink delivers rendered alerts somewhere. Send is called from the sink's
// own goroutine, one alert at a time.
type Sink interface {
	Name() string
	Send(ctx context.Context, line []byte, a *Alert) error
	Close() error
}

// Outputs fans alerts out to sinks through bounded per-sink queues.
type Outputs struct {
	format  Format
	sinks   []*queued
	log     *slog.Logger
	metrics *metrics
	reopen  <-chan os.Signal
	ids     *ids
}

type queued struct {
	sink        Sink
	minPriority rules.Priority
	ch          chan delivery
}

// delivery is an alert in a sink's queue, with the receipt to sign once
// the sink is done with it.
type delivery struct {
	alert   *Alert
	receipt *Receipt
}

// SinkConfig attaches a sink with its minimum priority and queue size.
type SinkConfig struct {
	Sink        Sink
	MinPriority rules.Priority
	QueueSize   int
}

type metrics struct {
	alerts  *prometheus.CounterVec
	sent    *prometheus.CounterVec
	dropped *prometheus.CounterVec
	errors  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_alerts_total",
			Help: "Alerts raised, by rule, priority and source."}, []string{"rule", "priority", "source"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_output_sent_total",
			Help: "Alerts delivered, by output."}, []string{"output"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_output_dropped_total",
			Help: "Alerts dropped because an output's queue was full, by output."}, []string{"output"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_output_errors_total",
			Help: "Alerts an output failed to deliver, by output."}, []string{"output"}),
	}
	reg.MustRegister(m.alerts, m.sent, m.dropped, m.errors)
	return m
}

// New builds the fan-out. Call Start to run the sinks.
func New(format Format, sinks []SinkConfig, reg prometheus.Registerer, log *slog.Logger) *Outputs {
	o := &Outputs{format: format, log: log, metrics: newMetrics(reg), ids: newIDs()}
	for _, s := range sinks {
		size := s.QueueSize
		if size <= 0 {
			size = 1024
		}
		o.sinks = append(o.sinks, &queued{sink: s.Sink, minPriority: s.MinPriority, ch: make(chan delivery, size)})
	}
	return o
}

// Start runs one goroutine per sink until ctx ends; then each sink drains
// its queue, is closed, and Start returns. Meanwhile it reopens the file
// outputs whenever Env.Reopen asks.
func (o *Outputs) Start(ctx context.Context) {
	var wg sync.WaitGroup
	for _, q := range o.sinks {
		wg.Go(func() { o.run(ctx, q) })
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.reopen:
			o.Reopen()
		}
	}
}

// Close closes the sinks of outputs that were never started (Start closes
// its own when it returns).
func (o *Outputs) Close() {
	for _, q := range o.sinks {
		if err := q.sink.Close(); err != nil {
			o.log.Warn("closing output", "output", q.sink.Name(), "err", err)
		}
	}
}

// reopener is a sink that can reopen what it writes to (File).
type reopener interface{ Reopen() error }

// Reopen reopens the sinks that write to files, after log rotation moved
// them; a sink that fails keeps writing where it did, and says so.
func (o *Outputs) Reopen() {
	for _, q := range o.sinks {
		if r, ok := q.sink.(reopener); ok {
			if err := r.Reopen(); err != nil {
				o.log.Error("reopening output", "output", q.sink.Name(), "err", err)
			}
		}
	}
}

func (o *Outputs) run(ctx context.Context, q *queued) {
	name := q.sink.Name()
	send := func(d delivery) {
		defer d.receipt.release()
		a := d.alert
		// Deliver even while shutting down: the context only stops the loop.
		if err := q.sink.Send(context.WithoutCancel(ctx), a.Line(o.format), a); err != nil {
			o.metrics.errors.WithLabelValues(name).Inc()
			o.log.Warn("output failed", "output", name, "rule", a.Rule, "err", err)
			return
		}
		o.metrics.sent.WithLabelValues(name).Inc()
	}
	for {
		select {
		case a := <-q.ch:
			send(a)
		case <-ctx.Done():
			for len(q.ch) > 0 {
				send(<-q.ch)
			}
			if err := q.sink.Close(); err != nil {
				o.log.Warn("closing output", "output", name, "err", err)
			}
			return
		}
	}
}

// Publish hands an alert to every sink whose minimum priority it meets. It
// never blocks: a sink whose queue is full drops the alert and counts it.
// An alert without an id gets one here, where it is first published: an
// agent's alerts keep theirs through the service.
func (o *Outputs) Publish(a *Alert) { o.Deliver(a, nil) }

// Deliver is Publish, with r (when not nil) held until every sink that
// took the alert is done with it.
func (o *Outputs) Deliver(a *Alert, r *Receipt) {
	if a.ID == "" {
		a.ID = o.ids.id()
	}
	o.metrics.alerts.WithLabelValues(a.Rule, a.Priority.String(), a.Source).Inc()
	for _, q := range o.sinks {
		if a.Priority > q.minPriority {
			continue
		}
		r.hold()
		select {
		case q.ch <- delivery{a, r}:
		default:
			r.release()
			o.metrics.dropped.WithLabelValues(q.sink.Name()).Inc()
		}
	}
}
