package webhook

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/peregrine-sec/peregrine/internal/ingress"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/session"
)

// Handler answers the apiserver's validating webhook calls.
type Handler struct {
	deciders chan *Decider // a pool: a Decider evaluates one request at a time
	budget   time.Duration
	post     *ingress.JSONPost
	publish  func(*output.Alert)
	log      *slog.Logger
	metrics  *metrics
	announce func(session.Announcement) // nil: exec sessions are not correlated
	record   func(a session.Announcement, allowed bool)
	// deciding counts decisions in flight, which may outlive their request
	// past the budget: Wait waits for them, so that their alerts are
	// published before the outputs stop.
	deciding sync.WaitGroup
}

// Wait waits for the decisions still running; call it once the server has
// shut down.
func (h *Handler) Wait() { h.deciding.Wait() }

// AnnounceExecs makes every admitted exec an announced exec session.
func (h *Handler) AnnounceExecs(announce func(session.Announcement)) { h.announce = announce }

// RecordExecs is told of every exec and attach decided, allowed or denied
// (the alert history keeps them).
func (h *Handler) RecordExecs(record func(a session.Announcement, allowed bool)) { h.record = record }

type metrics struct {
	decisions  *prometheus.CounterVec
	latency    prometheus.Histogram
	overBudget prometheus.Counter
}

// NewHandler serves decisions from deciders (one per concurrent request);
// a decision that takes longer than budget admits the request (fail-open)
// and is counted.
func NewHandler(deciders []*Decider, budget time.Duration, maxBody int64, publish func(*output.Alert),
	reg prometheus.Registerer, log *slog.Logger) *Handler {
	h := &Handler{deciders: make(chan *Decider, len(deciders)), budget: budget, publish: publish, log: log,
		post: ingress.NewJSONPost("peregrine_admission_requests_total", "Admission webhook requests, by HTTP status code.",
			maxBody, "admission.max_body_bytes", reg)}
	for _, d := range deciders {
		h.deciders <- d
	}
	h.metrics = &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_admission_decisions_total",
			Help: "Admission decisions: allowed, denied, warned (allowed with warnings), over_budget (admitted undecided)."}, []string{"decision"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "peregrine_admission_decision_seconds",
			Help: "Time to decide an admission request.", Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}),
		overBudget: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_admission_over_budget_total",
			Help: "Requests admitted because the decision exceeded the latency budget."}),
	}
	reg.MustRegister(h.metrics.decisions, h.metrics.latency, h.metrics.overBudget)
	return h
}

// Serve is the gin handler for POST /validate.
func (h *Handler) Serve(c *gin.Context) {
	body, ok := h.post.Read(c)
	if !ok {
		return
	}
	rev, err := DecodeReview(body)
	if err != nil {
		h.post.Fail(c, http.StatusBadRequest, err.Error())
		return
	}
	req, err := NewRequest(rev.Request, time.Now())
	if err != nil {
		h.post.Fail(c, http.StatusBadRequest, err.Error())
		return
	}
	dec := h.decide(req)
	for _, a := range req.sessionAnnouncements() {
		if dec.Allowed && h.announce != nil {
			// Before answering: the apiserver starts the process right after.
			h.announce(a)
		}
		if h.record != nil {
			h.record(a, dec.Allowed)
		}
	}
	h.post.OK(c, Response(rev, dec))
}

// decide runs the decision within the latency budget.
func (h *Handler) decide(req *Request) *Decision {
	start := time.Now()
	done := make(chan *Decision, 1)
	h.deciding.Go(func() {
		d := <-h.deciders
		dec := d.Decide(req, start)
		h.deciders <- d
		for _, a := range dec.Alerts {
			h.publish(a)
		}
		h.metrics.latency.Observe(time.Since(start).Seconds())
		done <- dec
	})
	timer := time.NewTimer(h.budget)
	defer timer.Stop()
	select {
	case dec := <-done:
		h.metrics.decisions.WithLabelValues(outcome(dec)).Inc()
		return dec
	case <-timer.C:
		h.metrics.overBudget.Inc()
		h.metrics.decisions.WithLabelValues("over_budget").Inc()
		h.log.Warn("admission decision over budget: admitted", "uid", req.Req.UID, "budget", h.budget)
		return &Decision{UID: string(req.Req.UID), Allowed: true, ID: req.ID,
			Warnings: []string{"Peregrine could not decide within its latency budget; the request was admitted"}}
	}
}

func outcome(d *Decision) string {
	switch {
	case !d.Allowed:
		return "denied"
	case len(d.Warnings) > 0:
		return "warned"
	}
	return "allowed"
}

// AnnotationKey is the auditAnnotations key of Peregrine's request id (an
// exec's session id); the apiserver prefixes it with the webhook's name in
// the audit event.
const AnnotationKey = session.AnnotationKey

// Response builds the AdmissionReview answer: the same version and uid.
func Response(rev *admissionv1.AdmissionReview, d *Decision) *admissionv1.AdmissionReview {
	resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: d.Allowed, Warnings: d.Warnings,
		AuditAnnotations: map[string]string{AnnotationKey: d.ID}}
	if !d.Allowed {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden,
			Reason: metav1.StatusReasonForbidden, Message: d.Message}
	}
	return &admissionv1.AdmissionReview{TypeMeta: rev.TypeMeta, Response: resp}
}
