package output

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// syslogListener is a syslog daemon's socket: it collects the datagrams.
func syslogListener(t *testing.T) (path string, got func() []string) {
	path = filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var mu sync.Mutex
	var msgs []string
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, string(buf[:n]))
			mu.Unlock()
		}
	}()
	return path, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), msgs...) }
}

// mtlsServer is an HTTPS endpoint that requires a client certificate of
// ca, and records the bodies it is posted with the client's CN.
func mtlsServer(t *testing.T, ca *testpki.CA) (url string, got func() []string) {
	cert, key := ca.Serving(t, "receiver")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca.CertPEM)
	pool.AppendCertsFromPEM(pem)
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.TLS.PeerCertificates[0].Subject.CommonName+" "+string(b))
		mu.Unlock()
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), bodies...) }
}

// TestBuildEveryOutput: every output kind the configuration offers, built
// by Build from its keys, receives a delivered alert: stdout, a file,
// syslog (a real datagram socket, at the rule's severity), an HTTPS
// endpoint that requires the client certificate http_output names, and a
// program.
func TestBuildEveryOutput(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t)
	clientCert, clientKey := ca.Client(t, "peregrine-output", "")
	sock, syslogGot := syslogListener(t)
	url, httpGot := mtlsServer(t, ca)
	cfg, err := config.Load("", []string{"json_output=true", "stdout_output.enabled=true",
		"file_output.enabled=true", "file_output.filename=" + filepath.Join(dir, "alerts.json"),
		"syslog_output.enabled=true", "syslog_output.network=unixgram", "syslog_output.address=" + sock,
		"http_output.enabled=true", "http_output.url=" + url, "http_output.ca_cert=" + ca.CertPEM, "http_output.mtls=true",
		"http_output.client_cert=" + clientCert, "http_output.client_key=" + clientKey,
		"program_output.enabled=true", "program_output.program=cat >> " + filepath.Join(dir, "program.out")})
	if err != nil {
		t.Fatal(err)
	}
	var stdout testenv.Buffer
	o, err := Build(cfg, Env{Stdout: &stdout, Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Start(ctx); close(done) }()
	r := NewReceipt()
	o.Deliver(testAlert(), r)
	r.Seal()
	if delivered, err := r.Wait(context.Background(), time.Now().Add(10*time.Second)); !delivered || err != nil {
		t.Fatalf("not delivered to every output: %v %v", delivered, err)
	}
	cancel()
	<-done // the program's input closed: what it wrote is complete
	line := `"rule":"Shell in container"`
	file, _ := os.ReadFile(filepath.Join(dir, "alerts.json"))
	program, _ := os.ReadFile(filepath.Join(dir, "program.out"))
	for name, got := range map[string]string{"stdout": stdout.String(), "file": string(file), "program": string(program),
		"http (mTLS)": strings.Join(httpGot(), "\n"), "syslog": strings.Join(syslogGot(), "\n")} {
		if !strings.Contains(got, line) {
			t.Errorf("%s: %q, want the alert", name, got)
		}
	}
	if got := httpGot(); len(got) != 1 || !strings.HasPrefix(got[0], "peregrine-output {") {
		t.Errorf("http: %q, want one post from the client certificate peregrine-output", got)
	}
	// <12>: facility user (1) * 8 + severity warning (4), the rule's priority.
	if got := syslogGot(); len(got) != 1 || !strings.HasPrefix(got[0], "<12>") || !strings.Contains(got[0], " peregrine[") {
		t.Errorf("syslog: %q, want one message <12>... peregrine[pid]", got)
	}
}

// TestHTTPRetryCauses: the HTTP output posts again after a network error
// and after a 429, and gives up at once on another 4xx.
func TestHTTPRetryCauses(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1: // the connection dies mid-request
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case 2:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 4:
			http.Error(w, "no", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	s, err := newHTTP(httpConfig{URL: srv.URL, Retries: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []byte("x\n"), testAlert()); err != nil || calls.Load() != 3 {
		t.Fatalf("after a reset and a 429: %v, %d posts; want delivered by the 3rd", err, calls.Load())
	}
	if err := s.Send(context.Background(), []byte("x\n"), testAlert()); err == nil || calls.Load() != 4 {
		t.Errorf("a 400: %v after %d posts; want an error after 1 more (no retry)", err, calls.Load())
	}
}

// TestHTTPMTLSRefusedWithoutCert: an endpoint that requires a client
// certificate refuses the HTTP output without mtls, and says so.
func TestHTTPMTLSRefusedWithoutCert(t *testing.T) {
	ca := testpki.NewCA(t)
	url, got := mtlsServer(t, ca)
	s, err := newHTTP(httpConfig{URL: url, CACert: ca.CertPEM, Retries: 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []byte("x\n"), testAlert()); err == nil || len(got()) != 0 {
		t.Errorf("without a client certificate: %v, %d posts received; want refused", err, len(got()))
	}
}
