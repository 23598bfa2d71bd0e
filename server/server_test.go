package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

type testServer struct {
	auditURL, webURL string
	admissionURL     string
	agentsURL        string // when agents.enabled
	admissionCA      *x509.CertPool
	stdout           *testenv.Buffer
	stop             func() // stops serving, waits, and checks Serve's error
	ca               *testpki.CA
	pool             *x509.CertPool
}

// startServer runs Run with TLS, a client CA and a token, on free ports.
func startServer(t *testing.T, overrides ...string) *testServer {
	t.Helper()
	stdout := &testenv.Buffer{}
	ts := startServerTo(t, stdout, overrides...)
	ts.stdout = stdout
	return ts
}

// startServerTo is startServer with alerts written to stdout.
func startServerTo(t *testing.T, stdout io.Writer, overrides ...string) *testServer {
	t.Helper()
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "server")
	tokens := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("# apiserver\ns3cret\n"), 0o600)
	cfg, err := config.Load("", append([]string{
		"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"k8s_audit.cert_file=" + cert, "k8s_audit.key_file=" + key,
		"k8s_audit.client_ca_file=" + ca.CertPEM, "k8s_audit.tokens_file=" + tokens,
	}, overrides...))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{ca: ca, pool: x509.NewCertPool()}
	pem, _ := os.ReadFile(ca.CertPEM)
	ts.pool.AppendCertsFromPEM(pem)
	s, stop := serving(t, Options{Config: cfg, Stdout: stdout})
	a := s.Addrs()
	ts.stop = stop
	ts.auditURL, ts.webURL = "https://"+a.Audit.String()+"/k8s-audit", "http://"+a.Web.String()
	if a.Agents != nil {
		ts.agentsURL = "https://" + a.Agents.String() + "/agent/v1/stream"
	}
	if a.Admission != nil {
		ts.admissionURL = "https://" + a.Admission.String() + "/validate"
		ts.admissionCA = x509.NewCertPool()
		ts.admissionCA.AppendCertsFromPEM(s.CABundle())
	}
	return ts
}

func (ts *testServer) client(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ts.pool, Certificates: certs}}}
}

func post(t *testing.T, c *http.Client, url, ctype, token string, body []byte) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

const event = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%s","stage":"ResponseStarted",` +
	`"requestURI":"/api/v1/namespaces/demo/pods/web/exec?command=sh&container=c","verb":"create",` +
	`"user":{"username":"alice","groups":["devs"]},"objectRef":{"resource":"pods","namespace":"demo","name":"web","subresource":"exec"},` +
	`"stageTimestamp":"2026-11-28T10:00:00.123456Z"}`

func eventList(n int) []byte {
	var items []string
	for i := range n {
		items = append(items, strings.Replace(event, "%s", "id-"+string(rune('a'+i)), 1))
	}
	return []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + `]}`)
}

func TestAuditEndpointBadInput(t *testing.T) {
	ts := startServer(t, "k8s_audit.max_body_bytes=4096", "k8s_audit.queue_size=3")
	c := ts.client()
	big := append(eventList(1), bytes.Repeat([]byte(" "), 5000)...)
	tests := []struct {
		name, ctype, token string
		body               []byte
		code               int
		msg                string
	}{
		{"no credentials", "application/json", "", eventList(1), 401, `{"error":"authentication required: a client certificate signed by the configured CA or a valid bearer token"}`},
		{"wrong token", "application/json", "nope", eventList(1), 401, ""},
		{"wrong type", "text/plain", "s3cret", eventList(1), 415, `{"error":"content type must be application/json"}`},
		{"too big", "application/json", "s3cret", big, 413, `{"error":"body larger than 4096 bytes (k8s_audit.max_body_bytes)"}`},
		{"malformed", "application/json", "s3cret", []byte(`{"kind":"EventList","items":[{"kind":"Pod"}]}`), 400, `{"error":"items element 0: kind \"Pod\" is not an audit Event"}`},
		{"empty", "application/json", "s3cret", nil, 400, `{"error":"no audit event in the input"}`},
		{"over capacity", "application/json", "s3cret", eventList(4), 429, `{"error":"evaluation queue full: retry later"}`},
		{"ok", "application/json; charset=utf-8", "s3cret", eventList(2), 200, `{"accepted":2}`},
	}
	for _, tt := range tests {
		code, body, hdr := post(t, c, ts.auditURL, tt.ctype, tt.token, tt.body)
		if code != tt.code || (tt.msg != "" && body != tt.msg) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.code, tt.msg)
		}
		if code == 429 && hdr.Get("Retry-After") != "1" {
			t.Errorf("%s: Retry-After %q, want 1", tt.name, hdr.Get("Retry-After"))
		}
	}
}

func TestAuditEndpointClientCert(t *testing.T) {
	ts := startServer(t, "k8s_audit.allowed_client_names=[kube-apiserver]")
	cert, key := ts.ca.Client(t, "kube-apiserver", "")
	pair, _ := tls.LoadX509KeyPair(cert, key)
	if code, body, _ := post(t, ts.client(pair), ts.auditURL, "application/json", "", eventList(1)); code != 200 {
		t.Fatalf("client cert: %d %s", code, body)
	}
	cert, key = ts.ca.Client(t, "someone-else", "")
	pair, _ = tls.LoadX509KeyPair(cert, key)
	code, body, _ := post(t, ts.client(pair), ts.auditURL, "application/json", "", eventList(1))
	if want := `{"error":"client certificate accepted, but its common name is not in k8s_audit.allowed_client_names"}`; code != 403 || body != want {
		t.Errorf("other CN: %d %s, want 403 %s", code, body, want)
	}
	other := testpki.NewCA(t)
	cert, key = other.Client(t, "intruder", "")
	pair, _ = tls.LoadX509KeyPair(cert, key)
	req, _ := http.NewRequest(http.MethodPost, ts.auditURL, bytes.NewReader(eventList(1)))
	if _, err := ts.client(pair).Do(req); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
}

// TestAlertsAndDrain: accepted events are evaluated and their alerts
// written even when shutdown starts right after the 200.
func TestAlertsAndDrain(t *testing.T) {
	ts := startServer(t)
	if code, body, _ := post(t, ts.client(), ts.auditURL, "application/json", "s3cret", eventList(3)); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	resp, err := http.Get(ts.webURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "peregrine_audit_events_received_total 3") {
		t.Errorf("metrics lack the received count:\n%s", metrics)
	}
	ts.stop()
	lines := strings.Split(strings.TrimSpace(ts.stdout.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"rule":"Exec or attach into a pod"`) ||
		!strings.Contains(lines[0], `"time":"2026-11-28T10:00:00.123456000Z"`) || !strings.Contains(lines[0], `"hostname":"test"`) {
		t.Errorf("alerts:\n%s", ts.stdout.String())
	}
}

// gate is a stdout whose writes wait until it opens.
type gate struct {
	entered chan struct{} // closed by the first write
	open    chan struct{}
	once    sync.Once
	written testenv.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return g.written.Write(p)
}

// TestAuditAnsweredOnceWritten: the 200 to an audit batch waits until
// its alerts are written, so that a replica killed before that leaves the
// batch to the apiserver to send again.
func TestAuditAnsweredOnceWritten(t *testing.T) {
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	ts := startServerTo(t, g)
	release := sync.OnceFunc(func() { close(g.open) })
	t.Cleanup(release) // before the server stops: cleanups run last first
	answered := make(chan int, 1)
	go func() {
		code, _, _ := post(t, ts.client(), ts.auditURL, "application/json", "s3cret", eventList(3))
		answered <- code
	}()
	<-g.entered
	select {
	case code := <-answered:
		t.Fatalf("answered %d before the alerts were written", code)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	if code := <-answered; code != 200 {
		t.Errorf("answered %d, want 200", code)
	}
}

// benign is an audit event list no rule alerts on.
var benign = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + benignItem(0) + `]}`

// TestDrain: once shutdown starts, the audit endpoint answers new batches
// 503 with Retry-After (the apiserver sends them again, elsewhere or
// later), not with a refused connection, until the batches it accepted
// are answered; none of those is lost.
func TestDrain(t *testing.T) {
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	ts := startServerTo(t, g)
	release := sync.OnceFunc(func() { close(g.open) })
	t.Cleanup(release)
	c := ts.client()
	answered := make(chan int, 1)
	go func() {
		code, _, _ := post(t, c, ts.auditURL, "application/json", "s3cret", eventList(3))
		answered <- code
	}()
	<-g.entered // accepted, its alerts being written
	stopped := make(chan struct{})
	go func() { ts.stop(); close(stopped) }()
	var code int
	var body string
	var hdr http.Header
	for deadline := time.Now().Add(5 * time.Second); code != http.StatusServiceUnavailable; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no 503 while draining; last %d %s", code, body)
		}
		code, body, hdr = post(t, c, ts.auditURL, "application/json", "s3cret", []byte(benign)) // 200 until shutdown begins
	}
	if want := `{"error":"shutting down: retry on another replica or later"}`; body != want || hdr.Get("Retry-After") != "1" {
		t.Errorf("while draining: %s, Retry-After %q; want %s, 1", body, hdr.Get("Retry-After"), want)
	}
	if resp, err := http.Get(ts.webURL + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %v %v, want 503", resp, err)
	}
	release()
	if code := <-answered; code != http.StatusOK {
		t.Errorf("the accepted batch: %d, want 200", code)
	}
	<-stopped
	if n := strings.Count(g.written.String(), `"rule":"Exec or attach into a pod"`); n != 3 {
		t.Errorf("%d of the accepted batch's 3 alerts written", n)
	}
}

// TestBacklog429: a batch that finds the queue full of other batches is
// refused with 429 and Retry-After, and counted; sent again once there is
// room, it is accepted and evaluated once. The service is built but its
// worker held back (started by hand), so that the backlog is certain.
func TestBacklog429(t *testing.T) {
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.enabled=false",
		"store.enabled=false", "k8s_audit.queue_size=800"}) // two batches of 400
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, Options{Config: cfg, Hostname: "test", Stdout: io.Discard, Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var running sync.WaitGroup
	defer running.Wait()
	defer cancel()
	running.Go(func() { s.outputs.Start(ctx) })
	running.Go(func() { s.audit.Start(ctx) })
	url := "http://" + s.Addrs().Audit.String() + "/k8s-audit"
	var items []string
	for i := range 400 {
		items = append(items, benignItem(i))
	}
	body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + `]}`)
	answered := make(chan int, 2)
	for range 2 { // the backlog: accepted, queued, not taken
		go func() { code, _, _ := post(t, http.DefaultClient, url, "application/json", "", body); answered <- code }()
	}
	for deadline := time.Now().Add(5 * time.Second); s.handler.queue.len() < 800; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d events queued, want 800", s.handler.queue.len())
		}
	}
	code, msg, hdr := post(t, http.DefaultClient, url, "application/json", "", body)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" {
		t.Errorf("behind a full queue: %d %s, Retry-After %q; want 429 with Retry-After 1", code, msg, hdr.Get("Retry-After"))
	}
	if got := testutil.ToFloat64(s.handler.metrics.rejected.WithLabelValues("queue_full")); got != 400 {
		t.Errorf("rejected_total{reason=queue_full} %v, want 400", got)
	}
	running.Go(func() { s.evaluate(ctx, s.workers[0]) })
	for range 2 {
		if code := <-answered; code != http.StatusOK {
			t.Errorf("a queued batch: %d, want 200", code)
		}
	}
	if code, msg, _ := post(t, http.DefaultClient, url, "application/json", "", body); code != http.StatusOK {
		t.Errorf("the refused batch sent again: %d %s, want 200", code, msg)
	}
	evaluated := func() float64 { return testutil.ToFloat64(s.handler.metrics.evaluated) }
	for deadline := time.Now().Add(5 * time.Second); evaluated() < 1200 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	time.Sleep(50 * time.Millisecond) // for any evaluated twice
	if got := evaluated(); got != 1200 {
		t.Errorf("evaluated_total %v, want 1200: each accepted batch once", got)
	}
}

// benignItem is the i-th of a batch of benign events.
func benignItem(i int) string {
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"b-` + strconv.Itoa(i) +
		`","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/demo/pods","verb":"list","user":{"username":"alice"},` +
		`"objectRef":{"resource":"pods","namespace":"demo"},"responseStatus":{"code":200},` +
		`"requestReceivedTimestamp":"2026-11-28T10:00:00.000000Z","stageTimestamp":"2026-11-28T10:00:00.000000Z"}`
}

func TestReadyz(t *testing.T) {
	// Built (rules compiled, listeners bound) but not serving: /readyz
	// does not answer ready.
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"store.enabled=false"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Options{Config: cfg, Stdout: io.Discard, Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := c.Get("http://" + s.Addrs().Web.String() + "/readyz"); err == nil {
		t.Errorf("/readyz before serving: %d, want no answer", resp.StatusCode)
	}
	s.close()
	ts := startServer(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.webURL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, resp, err)
		}
	}
}

// TestExposure: beyond loopback a listener serves only with TLS and a way
// to authenticate its callers, each of them; admission is the exception
// Kubernetes makes it (the apiserver presents no client certificate unless
// its AdmissionConfiguration names one): TLS, and the client's certificate
// required only with admission.client_ca_file.
func TestExposure(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "server")
	tokens := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("s3cret\n"), 0o600)
	tlsOf := func(section string) []string {
		return []string{section + ".listen_address=0.0.0.0", section + ".cert_file=" + cert, section + ".key_file=" + key}
	}
	tests := []struct {
		name      string
		overrides []string
		want      string // "" : it serves
	}{
		{"audit, plain", []string{"k8s_audit.listen_address=0.0.0.0"}, "k8s_audit: on 0.0.0.0:0: " + errInsecure.Error()},
		{"audit, TLS without authentication", tlsOf("k8s_audit"), "k8s_audit: on 0.0.0.0:0: " + errInsecure.Error()},
		{"audit, TLS and tokens", append(tlsOf("k8s_audit"), "k8s_audit.tokens_file="+tokens), ""},
		{"agents, TLS without authentication", append(tlsOf("agents"), "agents.enabled=true"), "agents: on 0.0.0.0:0: " + errInsecure.Error()},
		{"agents, TLS and client certificates", append(tlsOf("agents"), "agents.enabled=true", "agents.client_ca_file="+ca.CertPEM), ""},
		{"admission, TLS", tlsOf("admission"), ""},
	}
	for _, tt := range tests {
		cfg, err := config.Load("", append([]string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
			"agents.listen_port=0", "store.enabled=false"}, tt.overrides...))
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(context.Background(), Options{Config: cfg, Stdout: io.Discard, Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			s.close()
		}
		if !strings.HasPrefix(got, tt.want) || (tt.want != "" && !errors.Is(err, errInsecure)) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
