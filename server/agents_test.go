package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
	"github.com/peregrine-sec/peregrine/stream"
)

// TestAgentsListener: the agents' listener refuses an unauthenticated or
// wrongly named client, and publishes what an authenticated agent streams.
func TestAgentsListener(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "server")
	tokens := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("agent-token\n"), 0o600)
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.enabled=false",
		"agents.enabled=true", "agents.listen_port=0", "agents.cert_file=" + cert, "agents.key_file=" + key,
		"agents.client_ca_file=" + ca.CertPEM, "agents.allowed_client_names=[peregrine-agent]", "agents.tokens_file=" + tokens})
	if err != nil {
		t.Fatal(err)
	}
	stdout := &testenv.Buffer{}
	s, _ := serving(t, Options{Config: cfg, Stdout: stdout})
	url := "https://" + s.Addrs().Agents.String() + "/agent/v1/stream"
	pem, _ := os.ReadFile(ca.CertPEM)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsCfg := &tls.Config{RootCAs: pool}
	other, otherKey := ca.Client(t, "someone-else", "")
	otherCert, _ := tls.LoadX509KeyPair(other, otherKey)
	for _, tt := range []struct {
		name  string
		certs []tls.Certificate
		token string
		want  string
	}{
		{"no credentials", nil, "", `401 {"error":"authentication required: a client certificate signed by the configured CA or a valid bearer token"}`},
		{"another name", []tls.Certificate{otherCert}, "", `403 {"error":"client certificate accepted, but its common name is not in agents.allowed_client_names"}`},
		{"a wrong token", nil, "nope", "401 "},
	} {
		cfg := tlsCfg.Clone()
		cfg.Certificates = tt.certs
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(""))
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Status[:3] + " " + string(b); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	// With the token: a hello and a batch of one alert, published here.
	var body bytes.Buffer
	stream.WriteFrame(&body, stream.KindHello, stream.Hello{Node: "node-1"})
	stream.WriteFrame(&body, stream.KindAlerts, stream.Alerts{Seq: 1, Alerts: []stream.Alert{{Rule: "From the node",
		Priority: "Warning", Source: "syscall", Hostname: "node-1", Output: "hello", Time: time.Now()}}})
	req, _ := http.NewRequest(http.MethodPost, url, &body)
	req.Header.Set("Authorization", "Bearer agent-token")
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	// The replica says who it is first, then acknowledges.
	kind, payload, err := stream.ReadFrame(resp.Body)
	if err != nil || kind != stream.KindPeers || !strings.HasPrefix(string(payload), `{"replica":"test-`) {
		t.Errorf("peers: %c %s %v", kind, payload, err)
	}
	kind, payload, err = stream.ReadFrame(resp.Body)
	if err != nil || kind != stream.KindAck || string(payload) != `{"seq":1}` {
		t.Errorf("ack: %c %s %v", kind, payload, err)
	}
	resp.Body.Close()
	testenv.WaitLine(t, stdout, 5*time.Second, `"rule":"From the node"`, `"hostname":"node-1"`, `"priority":"Warning"`)
}
