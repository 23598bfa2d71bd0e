package webhook

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/session"
)

// handlerFor serves h as the admission listener does.
func handlerFor(h *Handler) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/validate", h.Serve)
	return r
}

// send posts rev to the handler and decodes its answer.
func send(t *testing.T, r http.Handler, rev *admissionv1.AdmissionReview) *admissionv1.AdmissionResponse {
	t.Helper()
	body, _ := json.Marshal(rev)
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(w, req)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	return out.Response
}

// TestOverBudgetFailsOpen: a decision slower than latency_budget admits
// the request, with a warning to the client, a log line and a count; the
// decision, once made, still publishes its alerts (Wait).
func TestOverBudgetFailsOpen(t *testing.T) {
	var logs testenv.Buffer
	var alerts []*output.Alert
	var mu sync.Mutex
	h := NewHandler([]*Decider{defaultDecider(t, Enforce, nil)}, 50*time.Millisecond, 1<<20,
		func(a *output.Alert) { mu.Lock(); alerts = append(alerts, a); mu.Unlock() }, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	d := <-h.deciders // held: no decision can start
	resp := send(t, handlerFor(h), review("CREATE", "shop", "pods", "", "priv", pod("priv", container("nginx:1.27", true, true)), "alice"))
	if want := []string{"Peregrine could not decide within its latency budget; the request was admitted"}; !resp.Allowed || !cmp.Equal(resp.Warnings, want) {
		t.Errorf("over budget: allowed %v, warnings %q; want admitted with %q", resp.Allowed, resp.Warnings, want)
	}
	if got := testutil.ToFloat64(h.metrics.overBudget); got != 1 {
		t.Errorf("peregrine_admission_over_budget_total %v, want 1", got)
	}
	testenv.WaitLine(t, &logs, time.Second, "admission decision over budget: admitted")
	h.deciders <- d
	h.Wait()
	if len(alerts) != 1 || alerts[0].Rule != "Deny privileged container" {
		t.Errorf("the late decision's alerts: %v, want Deny privileged container's", alerts)
	}
}

// TestDeniedExecAnnouncesNoSession: an exec admission refuses is recorded
// as denied and never announced (no agent binds a process to it); one it
// allows is announced, then recorded.
func TestDeniedExecAnnouncesNoSession(t *testing.T) {
	h := NewHandler([]*Decider{defaultDecider(t, Enforce, nil)}, time.Second, 1<<20, func(*output.Alert) {},
		prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	var got []string
	h.AnnounceExecs(func(a session.Announcement) { got = append(got, "announce "+a.User+" "+a.Namespace) })
	h.RecordExecs(func(a session.Announcement, allowed bool) {
		got = append(got, map[bool]string{true: "allowed ", false: "denied "}[allowed]+a.User+" "+a.Namespace)
	})
	exec := func(ns string) *admissionv1.AdmissionReview {
		return review("CONNECT", ns, "pods", "exec", "db-0", map[string]any{"kind": "PodExecOptions", "apiVersion": "v1",
			"container": "db", "command": []string{"sh"}, "stdin": true, "tty": true}, "alice", "devs")
	}
	r := handlerFor(h)
	if resp := send(t, r, exec("production")); resp.Allowed {
		t.Fatal("an exec into a protected namespace by a dev was allowed")
	}
	if resp := send(t, r, exec("shop")); !resp.Allowed {
		t.Fatalf("an exec into shop was refused: %v", resp.Result)
	}
	if diff := cmp.Diff([]string{"denied alice production", "announce alice shop", "allowed alice shop"}, got); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
}

// TestDebugAnnounced: an admitted kubectl debug announces a debug session
// for the container it adds, with its command; a refused one does not.
func TestDebugAnnounced(t *testing.T) {
	h := NewHandler([]*Decider{defaultDecider(t, Enforce, nil)}, time.Second, 1<<20, func(*output.Alert) {},
		prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	var got []session.Announcement
	h.AnnounceExecs(func(a session.Announcement) { got = append(got, a) })
	r := handlerFor(h)
	privileged := debugContainer("debugger-x1", "busybox:1.36", map[string]any{"privileged": true}, "sleep", "1000")
	if resp := send(t, r, debugReview("shop", "alice", []string{"devs"}, nil, privileged)); resp.Allowed {
		t.Fatal("a privileged debug container was admitted")
	}
	old := []map[string]any{debugContainer("debugger-a0", "busybox:1.36", nil, "true")}
	if resp := send(t, r, debugReview("shop", "alice", []string{"devs"}, old, debugContainer("debugger-p2", "busybox:1.36", nil, "sh"))); !resp.Allowed {
		t.Fatalf("an ordinary debug container was refused: %v", resp.Result)
	}
	want := []session.Announcement{{User: "alice", Groups: []string{"devs"}, Namespace: "shop", Pod: "db-0",
		Container: "debugger-p2", Command: []string{"sh"}, TTY: true, Kind: session.KindDebug}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(session.Announcement{}, "ID", "Time")); diff != "" {
		t.Errorf("announced (-want +got):\n%s", diff)
	}
}
