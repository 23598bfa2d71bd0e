package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/ingress"
	"github.com/peregrine-sec/peregrine/output"
)

// auditMetrics count every audit event and request, by what became of it.
type auditMetrics struct {
	received  prometheus.Counter
	queued    prometheus.Counter
	rejected  *prometheus.CounterVec
	evaluated prometheus.Counter
	// undelivered counts events answered 200 before their alerts were
	// delivered (an output slower than output.AckWait).
	undelivered prometheus.Counter
	depth       prometheus.GaugeFunc
}

func newAuditMetrics(reg prometheus.Registerer, depth func() float64) *auditMetrics {
	m := &auditMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_audit_events_received_total",
			Help: "Audit events decoded from requests."}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_audit_events_queued_total",
			Help: "Audit events accepted into the evaluation queue."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_audit_events_rejected_total",
			Help: "Audit events refused, by reason (queue_full, shutting_down); the sender retries them."}, []string{"reason"}),
		evaluated: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_audit_events_evaluated_total",
			Help: "Audit events evaluated against the rules."}),
		undelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_audit_events_acked_undelivered_total",
			Help: "Audit events answered 200 before every output had delivered their alerts: an output slower than 2 s."}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "peregrine_audit_queue_events",
			Help: "Audit events waiting in the queue."}, depth),
	}
	reg.MustRegister(m.received, m.queued, m.rejected, m.evaluated, m.undelivered, m.depth)
	return m
}

// addAudit binds the audit webhook listener and its queue.
func (s *Service) addAudit(c *config.Config, managed *certs.Rotating, o Options) error {
	a := c.K8sAudit
	addr := joinHostPort(a.ListenAddress, a.ListenPort)
	tlsCfg, auth, err := secured("k8s_audit", addr, a.ListenerAuth, managed)
	if err != nil {
		return fmt.Errorf("k8s_audit: %w", err)
	}
	q := newQueue[*audit.Event](a.QueueSize)
	s.handler = &auditHandler{queue: q, auth: auth, retryAfter: a.RetryAfter, log: o.Log,
		decoders: sync.Pool{New: func() any { return new(pooledDecoder) }},
		post: ingress.NewJSONPost("peregrine_audit_requests_total", "Audit webhook requests, by HTTP status code.",
			a.MaxBodyBytes, "k8s_audit.max_body_bytes", o.Registry),
		metrics: newAuditMetrics(o.Registry, func() float64 { return float64(q.len()) })}
	ln, err := listen(addr, tlsCfg)
	if err != nil {
		return err
	}
	r := newRouter()
	r.POST(a.Endpoint, s.handler.serve)
	s.audit = newEndpoint("k8s_audit", ln, r)
	s.audit.stopping, s.audit.drain = q.close, s.handler.drain
	return nil
}

// pooledDecoder is what a request's events live in: its body and the
// decoder's memory, both reused once the events are evaluated.
type pooledDecoder struct {
	audit.Decoder
	body []byte
}

// auditHandler receives what the apiserver's audit webhook backend posts.
type auditHandler struct {
	queue      *queue[*audit.Event]
	decoders   sync.Pool // *pooledDecoder
	auth       *authenticator
	post       *ingress.JSONPost
	retryAfter time.Duration
	// accepted counts the batches queued and not yet answered: shutdown
	// waits for them (drain).
	accepted sync.WaitGroup
	metrics  *auditMetrics
	log      *slog.Logger
}

func (h *auditHandler) serve(c *gin.Context) {
	if err := h.auth.check(c.Request); err != nil {
		h.post.Fail(c, authStatus(err), err.Error())
		return
	}
	dec := h.decoders.Get().(*pooledDecoder)
	body, ok := h.post.ReadInto(c, dec.body)
	if !ok {
		h.decoders.Put(dec)
		return
	}
	dec.body = body
	events, err := dec.Decode(body)
	if err != nil {
		h.decoders.Put(dec)
		h.post.Fail(c, http.StatusBadRequest, err.Error())
		return
	}
	h.metrics.received.Add(float64(len(events)))
	r := output.NewReceipt()
	// The decoder's memory is the events': it is reused once they are
	// evaluated.
	h.accepted.Add(1) // before the queue can close: drain's Wait sees it
	defer h.accepted.Done()
	if err := h.queue.put(batch[*audit.Event]{events, r, func() { h.decoders.Put(dec) }}); err != nil {
		h.decoders.Put(dec)
		// Push back, never drop: the apiserver's webhook backend retries.
		code, reason := http.StatusTooManyRequests, "queue_full"
		if errors.Is(err, errClosed) {
			code, reason = http.StatusServiceUnavailable, "shutting_down"
		}
		h.metrics.rejected.WithLabelValues(reason).Add(float64(len(events)))
		c.Header("Retry-After", strconv.Itoa(max(1, int(h.retryAfter.Seconds()))))
		h.post.Fail(c, code, err.Error())
		return
	}
	h.metrics.queued.Add(float64(len(events)))
	// Answer once the batch's alerts are delivered: a replica killed
	// before that gets no 200, and the apiserver retries the batch. An
	// output slower than output.AckWait does not hold the apiserver.
	delivered, err := r.Wait(c.Request.Context(), time.Now().Add(output.AckWait))
	if err != nil {
		return // the apiserver gave up: it retries
	}
	if !delivered {
		h.metrics.undelivered.Add(float64(len(events)))
	}
	h.post.OK(c, gin.H{"accepted": len(events)})
}

// drain waits, once the queue is closed (new batches get 503), until the
// accepted batches are answered, or ctx ends.
func (h *auditHandler) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { h.accepted.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// evaluate takes batches until the queue is closed and drained.
func evaluate(q *queue[*audit.Event], ev *audit.Evaluator, outs *output.Outputs, m *auditMetrics, sessions *sessionRouter) {
	var alerts []*output.Alert
	for {
		b, ok := q.take()
		if !ok {
			return
		}
		for _, e := range b.items {
			if sessions != nil {
				sessions.fromAudit(e)
			}
			alerts = ev.Evaluate(e, alerts[:0])
			for _, a := range alerts {
				outs.Deliver(a, b.receipt)
			}
		}
		b.receipt.Seal()
		m.evaluated.Add(float64(len(b.items)))
		if b.done != nil {
			b.done()
		}
	}
}
