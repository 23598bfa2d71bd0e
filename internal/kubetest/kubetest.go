// Package kubetest runs a real etcd and kube-apiserver on loopback for
// integration tests, wired to Peregrine's audit webhook. The binaries come
// from internal/kubetest/build.sh (built from the Go module proxy); without them
// tests skip, except under CI, where they fail.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/testenv"

	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// Tokens of the users the apiserver knows: admin is in system:masters,
// alice in devs, bob in ops.
const (
	AdminToken = "admin-token"
	AliceToken = "alice-token"
	BobToken   = "bob-token"
)

// Options configure Start.
type Options struct {
	// CA signs the apiserver's serving certificate and the client
	// certificate it presents to the audit webhook.
	CA *testpki.CA
	// AuditURL is where the apiserver posts audit EventLists (https);
	// empty: no audit webhook.
	AuditURL string
	// AuditPolicy overrides the default policy (RequestResponse for
	// everything but the apiserver's own traffic and health probes).
	AuditPolicy string
	ExtraArgs   []string
	// Port is the apiserver's port (0: a free one), for clients configured
	// before it starts (Kubeconfig).
	Port int
}

// Env is a running control plane.
type Env struct {
	URL    string
	dir    string
	ca     *testpki.CA
	client *http.Client
}

// BinDir finds the binaries, or skips (fails under CI) the test.
func BinDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PEREGRINE_KUBE_BIN")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "peregrine-kube", "bin-v1.37.2-etcd-v3.7.3")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			testenv.Unavailable(t, "kube-apiserver/etcd not found in %s (make test builds them: internal/kubetest/build.sh, or set PEREGRINE_KUBE_BIN): %v", dir, err)
		}
	}
	return dir
}

// Start runs etcd and kube-apiserver until the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	bin := BinDir(t)
	dir := t.TempDir()
	e := &Env{dir: dir, ca: o.CA}
	etcdURL := startEtcd(t, bin, dir)
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	e.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	args := e.apiserverArgs(t, etcdURL, port, o)
	startProcess(t, dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"), args...)
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(o.CA.CertPEM)
	pool.AppendCertsFromPEM(caPEM)
	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	e.waitReady(t)
	return e
}

func (e *Env) apiserverArgs(t testing.TB, etcdURL string, port int, o Options) []string {
	cert, key := o.CA.Serving(t, "kube-apiserver-serving")
	clientCert, clientKey := o.CA.Client(t, "kube-apiserver", "")
	saKey, saPub := writeSAKeys(t, e.dir)
	write := func(name, content string) string {
		p := filepath.Join(e.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokens := write("tokens.csv", AdminToken+",kube-admin,1,\"system:masters\"\n"+
		AliceToken+",alice,2,\"devs\"\n"+BobToken+",bob,3,\"ops\"\n")
	policy := o.AuditPolicy
	if policy == "" {
		policy = defaultPolicy
	}
	args := []string{
		"--etcd-servers=" + etcdURL, "--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--tls-cert-file=" + cert, "--tls-private-key-file=" + key, "--client-ca-file=" + o.CA.CertPEM,
		"--token-auth-file=" + tokens, "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saPub, "--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=10.0.0.0/24", "--authorization-mode=RBAC", "--allow-privileged=true",
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
	}
	if o.AuditURL != "" {
		kubeconfig := fmt.Sprintf(auditKubeconfig, o.AuditURL, o.CA.CertPEM, clientCert, clientKey)
		args = append(args, "--audit-policy-file="+write("audit-policy.yaml", policy),
			"--audit-webhook-config-file="+write("audit-webhook.kubeconfig", kubeconfig),
			"--audit-webhook-mode=batch", "--audit-webhook-batch-max-wait=200ms", "--audit-webhook-initial-backoff=1s")
	}
	return append(args, o.ExtraArgs...)
}

const defaultPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  users: ["system:apiserver"]
- level: None
  nonResourceURLs: ["/readyz*", "/healthz*", "/livez*", "/version", "/openapi*", "/api*"]
- level: RequestResponse
`

// Kubeconfig writes a kubeconfig for the apiserver on port, as the user
// of token, and returns its path.
func Kubeconfig(t testing.TB, ca *testpki.CA, port int, token string) string {
	p := filepath.Join(t.TempDir(), "kubeconfig")
	content := fmt.Sprintf(userKubeconfig, "https://127.0.0.1:"+strconv.Itoa(port), ca.CertPEM, token)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const userKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: user
  user:
    token: %s
contexts:
- name: default
  context: {cluster: test, user: user}
current-context: default
`

const auditKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: peregrine
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: kube-apiserver
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: default
  context: {cluster: peregrine, user: kube-apiserver}
current-context: default
`

func writeSAKeys(t testing.TB, dir string) (string, string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	keyPath, pubPath := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
	os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
	return keyPath, pubPath
}

func startEtcd(t testing.TB, bin, dir string) string {
	client, peer := FreePort(t), FreePort(t)
	cu, pu := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	startProcess(t, dir, "etcd", filepath.Join(bin, "etcd"), "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+cu, "--advertise-client-urls="+cu, "--listen-peer-urls="+pu,
		"--initial-advertise-peer-urls="+pu, "--initial-cluster=default="+pu, "--log-level=warn")
	return cu
}

// startProcess runs a binary with its output in dir/<name>.log, killed
// when the test ends.
func startProcess(t testing.TB, dir, name, path string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log (tail):\n%s", name, tail(b, 4000))
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// FreePort returns a loopback port nothing listens on.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (e *Env) waitReady(t testing.TB) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if code, _, err := e.Do(AdminToken, http.MethodGet, "/readyz", nil); err == nil && code == 200 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("kube-apiserver not ready in 60s")
}

// Do sends a request as the user of token; body is marshalled to JSON.
func (e *Env) Do(token, method, path string, body any) (int, []byte, error) {
	code, b, _, err := e.do(token, method, path, body)
	return code, b, err
}

// MustDoHeaders is MustDo returning the response headers.
func (e *Env) MustDoHeaders(t testing.TB, token, method, path string, body any, want int) http.Header {
	t.Helper()
	code, b, h, err := e.do(token, method, path, body)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %s %v, want %d", method, path, code, b, err, want)
	}
	return h
}

func (e *Env) do(token, method, path string, body any) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, r)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// MustDo is Do that fails the test unless the status is one of want.
func (e *Env) MustDo(t testing.TB, token, method, path string, body any, want ...int) []byte {
	t.Helper()
	code, b, err := e.Do(token, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, w := range want {
		if code == w {
			return b
		}
	}
	t.Fatalf("%s %s: %d %s, want %v", method, path, code, b, want)
	return nil
}
