package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/pgtest"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// get fetches url and returns the status and the body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestAlertAPI: alerts raised from audit events are kept, and the API
// pages through them, newest first, with the filters; a bad filter is a
// 400 that says why.
func TestAlertAPI(t *testing.T) {
	ts := startServer(t)
	if code, body, _ := post(t, ts.client(), ts.auditURL, "application/json", "s3cret", eventList(3)); code != http.StatusOK {
		t.Fatalf("audit post: %d %s", code, body)
	}
	type page struct {
		Items []struct {
			UUID   string         `json:"uuid"`
			Rule   string         `json:"rule"`
			Fields map[string]any `json:"output_fields"`
		} `json:"items"`
		Next string `json:"next"`
	}
	var p page
	for deadline := time.Now().Add(5 * time.Second); len(p.Items) < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := get(t, ts.webURL+"/api/v1/alerts?limit=2&user=alice")
		p = page{}
		json.Unmarshal([]byte(body), &p)
		if p.Next != "" {
			_, body = get(t, ts.webURL+"/api/v1/alerts?limit=2&user=alice&cursor="+p.Next)
			var rest page
			json.Unmarshal([]byte(body), &rest)
			p.Items = append(p.Items, rest.Items...)
		}
	}
	// The three alerts have one time: the newest first is the last stored.
	var got []string
	for _, a := range p.Items {
		got = append(got, a.Rule+" "+a.Fields["ka.user.name"].(string)+" "+a.UUID[len(a.UUID)-1:])
	}
	if diff := cmp.Diff([]string{"Exec or attach into a pod alice 3", "Exec or attach into a pod alice 2",
		"Exec or attach into a pod alice 1"}, got); diff != "" {
		t.Errorf("stored alerts (-want +got):\n%s", diff)
	}
	if code, body := get(t, ts.webURL+"/api/v1/alerts?user=bob"); code != http.StatusOK || body != `{"items":[],"next":""}` {
		t.Errorf("user=bob: %d %s", code, body)
	}
	if code, body := get(t, ts.webURL+"/api/v1/alerts?since=yesterday"); code != http.StatusBadRequest ||
		body != `{"error":"since: \"yesterday\" is not an RFC 3339 time"}` {
		t.Errorf("since=yesterday: %d %s", code, body)
	}
}

// TestAlertAPIAuthentication: beyond loopback the API needs TLS and a
// credential, or a caller on loopback (kubectl port-forward into the
// pod); health and metrics stay open to probes and scrapers.
func TestAlertAPIAuthentication(t *testing.T) {
	open := startServer(t, "webserver.listen_address=0.0.0.0")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(open.webURL, "http://"))
	remote := "http://" + net.JoinHostPort(outboundIP(t), port)
	code, body := get(t, remote+"/api/v1/alerts")
	if want := `{"error":"the alert API answers callers on loopback (kubectl port-forward), or with TLS and authentication ` +
		`(webserver.cert_file, and client_ca_file or tokens_file)"}`; code != http.StatusForbidden || body != want {
		t.Errorf("a caller beyond loopback, without TLS and authentication: %d %s", code, body)
	}
	if code, _ := get(t, remote+"/ui/"); code != http.StatusForbidden {
		t.Errorf("the UI to a caller beyond loopback, without TLS and authentication: %d", code)
	}
	if code, _ := get(t, remote+"/readyz"); code != http.StatusOK {
		t.Errorf("a probe beyond loopback: %d", code)
	}
	for _, path := range []string{"/api/v1/alerts", "/ui/"} {
		if code, _ := get(t, "http://127.0.0.1:"+port+path); code != http.StatusOK {
			t.Errorf("%s to a caller on loopback (as kubectl port-forward arrives): %d", path, code)
		}
	}

	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "web")
	tokens := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("reader-token\n"), 0o600)
	ts := startServer(t, "webserver.listen_address=0.0.0.0", "webserver.cert_file="+cert, "webserver.key_file="+key,
		"webserver.client_ca_file="+ca.CertPEM, "webserver.allowed_client_names=[ui]", "webserver.tokens_file="+tokens)
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(ts.webURL, "http://"))
	url := "https://127.0.0.1:" + port
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca.CertPEM)
	pool.AppendCertsFromPEM(pem)
	client := func(user string) *http.Client {
		cfg := &tls.Config{RootCAs: pool}
		if user != "" {
			certFile, keyFile := ca.Client(t, user, "")
			pair, _ := tls.LoadX509KeyPair(certFile, keyFile)
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	tests := []struct {
		name, user, token, path string
		code                    int
	}{
		{"no credential", "", "", "/api/v1/alerts", http.StatusUnauthorized},
		{"wrong token", "", "nope", "/api/v1/sessions", http.StatusUnauthorized},
		{"token", "", "reader-token", "/api/v1/alerts", http.StatusOK},
		{"certificate", "ui", "", "/api/v1/sessions", http.StatusOK},
		{"certificate of another name", "someone", "", "/api/v1/alerts", http.StatusForbidden},
		{"the UI's data, no credential", "", "", "/api/v1/stats", http.StatusUnauthorized},
		{"the UI's rules, token", "", "reader-token", "/api/v1/rules", http.StatusOK},
		{"the UI's page, which holds no data", "", "", "/ui/", http.StatusOK},
		{"probe", "", "", "/readyz", http.StatusOK},
		{"scraper", "", "", "/metrics", http.StatusOK},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, url+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := client(tt.user).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.code)
		}
	}
}

// outboundIP is an address of this machine beyond loopback.
func outboundIP(t *testing.T) string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
			return ip.IP.String()
		}
	}
	t.Fatal("this machine has no IPv4 address beyond loopback")
	return ""
}

// TestAlertStream: /api/v1/stream sends each new alert its filters select
// as a server-sent event, and ends when the service stops.
func TestAlertStream(t *testing.T) {
	ts := startServer(t)
	open := func(query string) *bufio.Reader {
		resp, err := http.Get(ts.webURL + "/api/v1/stream?" + query)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
			t.Fatalf("%d %s", resp.StatusCode, ct)
		}
		return bufio.NewReader(resp.Body)
	}
	alice, bob := open("user=alice"), open("user=bob")
	if code, body, _ := post(t, ts.client(), ts.auditURL, "application/json", "s3cret", eventList(1)); code != http.StatusOK {
		t.Fatalf("audit post: %d %s", code, body)
	}
	event, _ := alice.ReadString('\n')
	data, _ := alice.ReadString('\n')
	if event != "event: alert\n" || !strings.HasPrefix(data, `data: {"hostname":"test","output":`) ||
		!strings.Contains(data, `"rule":"Exec or attach into a pod"`) {
		t.Errorf("alice's stream: %q %q", event, data)
	}
	ts.stop()
	if rest, err := io.ReadAll(bob); err != nil || len(rest) != 0 {
		t.Errorf("bob's stream: %q, %v (want nothing, then its end)", rest, err)
	}
}

// execReview is an AdmissionReview of kubectl exec (CONNECT pods/exec).
func execReview(uid, user, namespace string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `",` +
		`"kind":{"group":"","version":"v1","kind":"PodExecOptions"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"subResource":"exec","name":"web","namespace":"` + namespace + `","operation":"CONNECT",` +
		`"userInfo":{"username":"` + user + `","groups":["devs"]},` +
		`"object":{"kind":"PodExecOptions","apiVersion":"v1","container":"app","command":["sh"],"stdin":true,"tty":true}}}`)
}

// TestSessionAPI: exec sessions admitted and refused are kept with their
// verdict; the audit event of an admitted one adds its audit ID.
func TestSessionAPI(t *testing.T) {
	ts := startServer(t)
	c := ts.admissionClient()
	var admitted string
	for _, r := range []struct{ uid, user, ns string }{{"u-1", "alice", "shop"}, {"u-2", "mallory", "production"}} {
		code, body, _ := post(t, c, ts.admissionURL, "application/json", "", execReview(r.uid, r.user, r.ns))
		var rev struct {
			Response struct{ AuditAnnotations map[string]string }
		}
		if json.Unmarshal([]byte(body), &rev); code != http.StatusOK {
			t.Fatalf("%s: %d %s", r.uid, code, body)
		}
		if r.uid == "u-1" {
			admitted = rev.Response.AuditAnnotations["request-id"]
		}
	}
	// The apiserver's audit event of alice's exec names the session.
	confirm := strings.Replace(event, `"stageTimestamp"`, `"annotations":{"peregrine/request-id":"`+admitted+`"},"stageTimestamp"`, 1)
	confirm = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Replace(confirm, "%s", "audit-1", 1) + `]}`
	if code, body, _ := post(t, ts.client(), ts.auditURL, "application/json", "s3cret", []byte(confirm)); code != http.StatusOK {
		t.Fatalf("audit post: %d %s", code, body)
	}
	type session struct {
		User, Namespace, Container, Verdict, AuditID string
		Command                                      []string
		TTY                                          bool
	}
	var page struct{ Items []session }
	want := []session{{User: "mallory", Namespace: "production", Container: "app", Verdict: "denied", Command: []string{"sh"}, TTY: true},
		{User: "alice", Namespace: "shop", Container: "app", Verdict: "allowed", AuditID: "audit-1", Command: []string{"sh"}, TTY: true}}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := get(t, ts.webURL+"/api/v1/sessions")
		page.Items = nil
		json.Unmarshal([]byte(body), &page)
		if cmp.Equal(want, page.Items) {
			break
		}
	}
	if diff := cmp.Diff(want, page.Items); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	code, body := get(t, ts.webURL+"/api/v1/sessions/"+admitted)
	if code != http.StatusOK || !strings.Contains(body, `"verdict":"allowed"`) || !strings.HasSuffix(body, `"alerts":[]}`) {
		t.Errorf("session %s: %d %s", admitted, code, body)
	}
	if code, body := get(t, ts.webURL+"/api/v1/sessions/nope"); code != http.StatusNotFound || body != `{"error":"no such session: \"nope\""}` {
		t.Errorf("unknown session: %d %s", code, body)
	}
	if code, body := get(t, ts.webURL+"/api/v1/sessions/nope/binding"); code != http.StatusNotFound || body != `{"error":"no such session: \"nope\""}` {
		t.Errorf("the binding of an unknown session: %d %s", code, body)
	}
	if code, body := get(t, ts.webURL+"/api/v1/sessions?rule=x"); code != http.StatusBadRequest ||
		body != `{"error":"rule: not a filter of sessions (user, namespace, pod, since, limit, cursor)"}` {
		t.Errorf("bad filter: %d %s", code, body)
	}
}

// TestSharedHistory: two replicas with one PostgreSQL history (store.url)
// each take their own audit events; either one's API answers with the
// alerts of both, and one's stream carries the other's.
func TestSharedHistory(t *testing.T) {
	url := pgtest.Database(t)
	a, b := startServer(t, "store.url="+url), startServer(t, "store.url="+url)
	for _, r := range []*testServer{a, b} {
		if code, body, _ := post(t, r.client(), r.auditURL, "application/json", "s3cret", eventList(2)); code != http.StatusOK {
			t.Fatalf("audit post: %d %s", code, body)
		}
	}
	for _, r := range []*testServer{a, b} {
		var page struct{ Items []json.RawMessage }
		for deadline := time.Now().Add(10 * time.Second); len(page.Items) < 4 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			_, body := get(t, r.webURL+"/api/v1/alerts?user=alice")
			json.Unmarshal([]byte(body), &page)
		}
		if len(page.Items) != 4 {
			t.Errorf("%s: %d alerts, want the 4 both replicas raised", r.webURL, len(page.Items))
		}
	}
	// b's live stream carries a's alerts: a posts until one comes (b may
	// not be listening yet), as b raises none itself.
	resp, err := http.Get(b.webURL + "/api/v1/stream?user=alice")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		for r := bufio.NewReader(resp.Body); ; {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if code, body, _ := post(t, a.client(), a.auditURL, "application/json", "s3cret", eventList(1)); code != http.StatusOK {
			t.Fatalf("audit post: %d %s", code, body)
		}
		select {
		case line := <-lines:
			if line != "event: alert\n" {
				t.Errorf("b's stream: %q, want an alert event", line)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("b's stream carried none of a's alerts")
		}
	}
}
