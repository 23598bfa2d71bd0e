package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/peregrine-sec/peregrine/certs"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testpki"
	"github.com/peregrine-sec/peregrine/kube"
)

// serveManaged runs serve with its own certificates until the returned
// stop is called; it returns the admission and audit addresses.
func serveManaged(t *testing.T, kubeconfig string) (adm, aud net.Addr, stop func()) {
	t.Helper()
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"admission.latency_budget=2s", "kubernetes.kubeconfig=" + kubeconfig, "certificates.secret=peregrine-ca",
		"certificates.dns_names=[127.0.0.1]", "exec_sessions.enabled=false", "k8s_audit.allowed_client_names=[kube-apiserver]"})
	if err != nil {
		t.Fatal(err)
	}
	s, stop := serving(t, Options{Config: cfg})
	return s.Addrs().Admission, s.Addrs().Audit, stop
}

// TestManagedCertificates: with certificates.secret, serve makes its CA in
// a Secret, publishes it, and sets the shipped webhook's caBundle itself,
// so the real apiserver calls it with no certificate step by hand; a
// restart keeps the CA; a foreign Secret is a clear startup error.
func TestManagedCertificates(t *testing.T) {
	k, kubeconfig := startKube(t, "peregrine", "shop")
	addr, auditAddr, stop := serveManaged(t, kubeconfig)
	hook := kubetest.ShippedWebhook(t) // no caBundle: the service sets it
	hook["failurePolicy"], hook["clientConfig"] = "Fail", map[string]any{"url": "https://" + addr.String() + "/validate"}
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
		map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
			"metadata": map[string]any{"name": "peregrine"}, "webhooks": []any{hook}}, 201)
	waitDenied(t, k)
	client := clientFor(t, kubeconfig)
	first := caOf(t, client)
	auditConfigWorks(t, client, auditAddr)
	stop()

	_, _, stop = serveManaged(t, kubeconfig)
	if again := caOf(t, client); again != first {
		t.Error("a restart made a new CA")
	}
	cm, err := client.CoreV1().ConfigMaps("peregrine").Get(context.Background(), "peregrine-ca", metav1.GetOptions{})
	if err != nil || cm.Data[kube.CACertKey] != first {
		t.Errorf("published CA: %v", err)
	}
	stop()

	// A Secret of that name that is no Peregrine CA is refused, and kept.
	sec, _ := client.CoreV1().Secrets("peregrine").Get(context.Background(), "peregrine-ca", metav1.GetOptions{})
	sec.Data[kube.CAKeyKey] = []byte("not a key")
	if _, err := client.CoreV1().Secrets("peregrine").Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	store := &kube.CAStore{Client: client, Namespace: "peregrine", Secret: "peregrine-ca", Log: slog.Default()}
	_, err = store.LoadOrCreate(context.Background())
	if !errors.Is(err, certs.ErrForeignCA) || !strings.HasPrefix(err.Error(), "secret peregrine/peregrine-ca: not a Peregrine CA: tls: failed to find any PEM data in key input") {
		t.Errorf("corrupt CA Secret: %v", err)
	}
}

// TestCASecretRace: replicas starting together end up with one CA.
func TestCASecretRace(t *testing.T) {
	_, kubeconfig := startKube(t, "peregrine")
	client := clientFor(t, kubeconfig)
	got := make(chan string, 4)
	for range cap(got) {
		go func() {
			s := &kube.CAStore{Client: client, Namespace: "peregrine", Secret: "peregrine-ca", Validity: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			c, err := s.LoadOrCreate(context.Background())
			if err != nil {
				t.Error(err)
				got <- ""
				return
			}
			got <- string(c.CertPEM)
		}()
	}
	first := <-got
	for range cap(got) - 1 {
		if <-got != first {
			t.Error("replicas disagree on the CA")
		}
	}
	if first != caOf(t, client) {
		t.Error("the CA returned is not the one stored")
	}
}

// startKube runs a real apiserver with namespaces, and returns it with an
// admin kubeconfig for it.
func startKube(t *testing.T, namespaces ...string) (*kubetest.Env, string) {
	t.Helper()
	kubetest.BinDir(t)
	ca := testpki.NewCA(t)
	port := kubetest.FreePort(t)
	kubeconfig := kubetest.Kubeconfig(t, ca, port, kubetest.AdminToken)
	k := kubetest.Start(t, kubetest.Options{CA: ca, Port: port})
	k.Namespaces(t, namespaces...)
	return k, kubeconfig
}

func waitDenied(t *testing.T, k *kubetest.Env) {
	t.Helper()
	probe := privilegedPod("probe")
	var code int
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, body, _ = k.Do(kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods?dryRun=All", probe)
		if code == 403 && strings.Contains(string(body), "denied by Peregrine") {
			return
		}
	}
	t.Fatalf("the apiserver never reached the webhook with the managed certificate: %d %s", code, body)
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func caOf(t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	sec, err := client.CoreV1().Secrets("peregrine").Get(context.Background(), "peregrine-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(sec.Data[kube.CACertKey])
}

// auditConfigWorks: the kubeconfig peregrine audit-config prints gets the
// apiserver's EventLists accepted by the audit endpoint (TLS verified
// against the managed CA, client certificate accepted); a certificate
// with another common name is refused.
func auditConfigWorks(t *testing.T, client kubernetes.Interface, addr net.Addr) {
	t.Helper()
	a := kube.AuditCredential{Namespace: "peregrine", Secret: "peregrine-ca", URL: "https://" + addr.String() + "/k8s-audit",
		CommonName: "kube-apiserver", Validity: time.Hour}
	post := func(a kube.AuditCredential) int {
		kc, err := kube.AuditKubeconfig(context.Background(), client, a)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
		if err != nil {
			t.Fatal(err)
		}
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Post(cfg.Host, "application/json", strings.NewReader(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`))
		if err != nil {
			t.Fatalf("post with the audit kubeconfig: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(a); code != 200 {
		t.Errorf("audit-config's credential: %d, want 200", code)
	}
	a.CommonName = "mallory"
	if code := post(a); code != 403 {
		t.Errorf("another common name: %d, want 403", code)
	}
}
