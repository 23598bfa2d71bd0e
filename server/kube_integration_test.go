package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// TestRealAPIServerAudit points a real kube-apiserver's audit webhook at
// `serve` (TLS, client-certificate authentication) and checks that a
// privileged pod and an exec into a pod raise the upstream k8s_audit
// alerts.
func TestRealAPIServerAudit(t *testing.T) {
	kubetest.BinDir(t) // skip early without binaries
	rulesFile := filepath.Join(conformance.Dir(t), "rules", "k8s_audit_rules.yaml")
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "peregrine")
	// rule_matching=all: the admin user is not in the upstream allowed
	// users, so "Disallowed K8s User" matches every request first.
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.enabled=false",
		"k8s_audit.cert_file=" + cert, "k8s_audit.key_file=" + key, "k8s_audit.client_ca_file=" + ca.CertPEM,
		"rules_files=[" + rulesFile + "]", "rule_matching=all"})
	if err != nil {
		t.Fatal(err)
	}
	stdout := &testenv.Buffer{}
	s, _ := serving(t, Options{Config: cfg, Hostname: "it", Stdout: stdout})
	auditURL := "https://" + s.Addrs().Audit.String() + "/k8s-audit"
	// The apiserver stops before Peregrine (its cleanup, registered later,
	// runs first), so its audit buffer flushes to a live endpoint.
	env := kubetest.Start(t, kubetest.Options{CA: ca, AuditURL: auditURL})

	ns := "demo"
	env.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces", obj("Namespace", ns, nil), 201)
	env.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/"+ns+"/serviceaccounts", obj("ServiceAccount", "default", nil), 201)
	priv := obj("Pod", "privileged", map[string]any{"containers": []any{map[string]any{
		"name": "c", "image": "nginx:1.27", "securityContext": map[string]any{"privileged": true}}}})
	env.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", priv, 201)
	plain := obj("Pod", "mypod", map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}})
	env.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", plain, 201)
	// No node is assigned: the apiserver answers 400, but audits the exec.
	env.MustDo(t, kubetest.AdminToken, http.MethodPost,
		"/api/v1/namespaces/"+ns+"/pods/mypod/exec?command=sh&stdin=true&tty=true&container=c", nil, 400)

	want := []string{`"rule":"Create Privileged Pod"`, `"rule":"Attach/Exec Pod"`}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !testenv.ContainsAll(stdout.String(), want) {
		time.Sleep(100 * time.Millisecond)
	}
	if !testenv.ContainsAll(stdout.String(), want) {
		t.Fatalf("alerts %v not all seen; got:\n%s", want, stdout.String())
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, `"rule":"Attach/Exec Pod"`) && !strings.Contains(line, `command=sh`) {
			t.Errorf("exec alert lacks the command: %s", line)
		}
	}
}

func obj(kind, name string, spec map[string]any) map[string]any {
	o := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": name}}
	if spec != nil {
		o["spec"] = spec
	}
	return o
}
