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

// flusher is a sink that buffers what Send writes (stdout, file).
type flusher interface{ Flush() error }

// maxBatch bounds the alerts a sink writes between two flushes.
const maxBatch = 256

// run sends what q holds: whatever is queued, up to maxBatch, then one
// flush of a buffered sink, and only then the receipts of those alerts
// are released (what a replica acknowledges is written). A flush comes
// whenever the queue runs empty, so an alert waits in a buffer no longer
// than its batch takes to format.
func (o *Outputs) run(ctx context.Context, q *queued) {
	b := &batcher{o: o, q: q, ctx: context.WithoutCancel(ctx)} // deliver even while shutting down
	b.flusher, _ = q.sink.(flusher)
	for {
		select {
		case d := <-q.ch:
			b.send(d)
			for n := 1; n < maxBatch && len(q.ch) > 0; n++ {
				b.send(<-q.ch)
			}
			b.flush()
		case <-ctx.Done():
			for len(q.ch) > 0 {
				b.send(<-q.ch)
			}
			b.flush()
			if err := q.sink.Close(); err != nil {
				o.log.Warn("closing output", "output", q.sink.Name(), "err", err)
			}
			return
		}
	}
}

// batcher is a sink's batch between two flushes.
type batcher struct {
	o       *Outputs
	q       *queued
	ctx     context.Context
	flusher flusher
	held    []*Receipt
}

func (b *batcher) send(d delivery) {
	name, a := b.q.sink.Name(), d.alert
	b.held = append(b.held, d.receipt)
	if err := b.q.sink.Send(b.ctx, a.Line(b.o.format), a); err != nil {
		b.o.metrics.errors.WithLabelValues(name).Inc()
		b.o.log.Warn("output failed", "output", name, "rule", a.Rule, "err", err)
		return
	}
	b.o.metrics.sent.WithLabelValues(name).Inc()
}

func (b *batcher) flush() {
	if b.flusher != nil {
		if err := b.flusher.Flush(); err != nil {
			b.o.metrics.errors.WithLabelValues(b.q.sink.Name()).Inc()
			b.o.log.Warn("output failed", "output", b.q.sink.Name(), "err", err)
		}
	}
	for _, r := range b.held {
		r.release()
	}
	clear(b.held)
	b.held = b.held[:0]
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
