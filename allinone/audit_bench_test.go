package allinone

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// auditBatch is the kube-apiserver's default --audit-webhook-batch-max-size.
const auditBatch = 400

// BenchmarkAuditHTTPProcess measures the audit endpoint as the apiserver
// uses it: a `peregrine serve` process held to one core (GOMAXPROCS=1)
// with the upstream k8s_audit_rules.yaml and alerts written to a file,
// and EventLists of 400 recorded real-cluster events (audit/testdata)
// posted to it over loopback TLS with a client certificate, 4 at a time.
// The endpoint answers 200 once a batch's alerts are written, so
// events/s is events evaluated and written per second. A 429 (the queue
// full) is retried after a millisecond, and counted. "outputs" writes
// alerts to the file only; "outputs+store" keeps them in the alert
// history as well (the default), whose writer shares the one core.
func BenchmarkAuditHTTPProcess(b *testing.B) {
	bodies, n := eventLists(b)
	bin := buildPeregrine(b)
	b.Run("outputs", func(b *testing.B) { benchAuditHTTP(b, bin, bodies, n, "store.enabled=false") })
	b.Run("outputs+store", func(b *testing.B) { benchAuditHTTP(b, bin, bodies, n, storePath(b)) })
}

func benchAuditHTTP(b *testing.B, bin string, bodies [][]byte, n int, store string) {
	ca := testpki.NewCA(b)
	cert, key := ca.Serving(b, "peregrine")
	ports := listenersOf(b, 1)
	b.Setenv("GOMAXPROCS", "1") // for the child
	p := &process{web: ports.web[0]}
	p.cmd, p.stderr = spawn(b, bin, "serve", "-o", "k8s_audit.listen_port="+strconv.Itoa(ports.audit[0]),
		"-o", "k8s_audit.cert_file="+cert, "-o", "k8s_audit.key_file="+key, "-o", "k8s_audit.client_ca_file="+ca.CertPEM,
		"-o", "admission.enabled=false", "-o", "webserver.listen_port="+strconv.Itoa(p.web), "-o", store,
		"-o", "rules_files=["+filepath.Join(conformance.Dir(b), "rules", "k8s_audit_rules.yaml")+"]",
		"-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true",
		"-o", "file_output.filename="+filepath.Join(b.TempDir(), "alerts.json"))
	client := auditClient(b, ca)
	url := "https://127.0.0.1:" + strconv.Itoa(ports.audit[0]) + "/k8s-audit"
	waitServing(b, client, url)
	var refused atomic.Int64
	b.ResetTimer()
	for b.Loop() {
		postAll(b, client, url, bodies, &refused)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(refused.Load())/float64(b.N), "429/op")
	if got := p.metric("peregrine_audit_events_evaluated_total", ""); got < float64(b.N*n) {
		b.Fatalf("%v events evaluated, want %d", got, b.N*n)
	}
}

// eventLists cuts the recorded corpus into EventList bodies.
func eventLists(b *testing.B) ([][]byte, int) {
	data := conformance.RealTraffic(b)
	lines := bytes.Split(bytes.TrimSpace(data), []byte{'\n'})
	var bodies [][]byte
	for i := 0; i < len(lines); i += auditBatch {
		items := lines[i:min(i+auditBatch, len(lines))]
		body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
		body = append(append(body, bytes.Join(items, []byte{','})...), "]}"...)
		bodies = append(bodies, body)
	}
	return bodies, len(lines)
}

func auditClient(b *testing.B, ca *testpki.CA) *http.Client {
	certFile, keyFile := ca.Client(b, "kube-apiserver", "")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		b.Fatal(err)
	}
	pem, err := os.ReadFile(ca.CertPEM)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4,
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
}

// waitServing waits until the endpoint answers an empty EventList.
func waitServing(b *testing.B, client *http.Client, url string) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`)))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the audit endpoint does not answer: %v", err)
		}
	}
}

// postAll posts every body, 4 at a time, each until it is answered 200.
func postAll(b *testing.B, client *http.Client, url string, bodies [][]byte, refused *atomic.Int64) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(bodies)); i = next.Add(1) - 1 {
				for !post(b, client, url, bodies[i]) {
					refused.Add(1)
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

// post reports false when the endpoint answered 429.
func post(b *testing.B, client *http.Client, url string, body []byte) bool {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return true
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests {
		return false
	}
	if resp.StatusCode != http.StatusOK {
		b.Errorf("audit endpoint answered %s", resp.Status)
	}
	return true
}
