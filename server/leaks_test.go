package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/stream"
)

// TestServeLeavesNoGoroutines: serve with every part that runs in the
// background (the pod watch, managed certificates and the caBundle watch,
// the agents' hub with token reviews, exec sessions, admission), after it
// has answered the apiserver's admission calls, an audit batch and an
// agent's stream, leaves no goroutine behind once its context ends.
func TestServeLeavesNoGoroutines(t *testing.T) {
	k, kubeconfig := startKube(t, "peregrine", "shop")
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/peregrine/serviceaccounts", kubetest.Obj("ServiceAccount", "peregrine-agent", nil), 201)
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/nodes", kubetest.Obj("Node", "node-a", nil), 201)
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/peregrine/pods", kubetest.Obj("Pod", "agent-node-a", map[string]any{
		"nodeName": "node-a", "serviceAccountName": "peregrine-agent", "containers": []any{map[string]any{"name": "a", "image": "peregrine:test"}}}), 201)
	client := clientFor(t, kubeconfig)
	token := tokenFor(t, k, "peregrine-agent", "peregrine", "agent-node-a")
	check := testenv.LeakCheck(t)

	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"admission.latency_budget=2s", "kubernetes.kubeconfig=" + kubeconfig, "certificates.secret=peregrine-ca",
		"certificates.dns_names=[127.0.0.1]", "k8s_audit.allowed_client_names=[kube-apiserver]", "exec_sessions.enabled=true",
		"agents.enabled=true", "agents.listen_port=0", "agents.token_audience=peregrine", "agents.service_accounts=[peregrine:peregrine-agent]"})
	if err != nil {
		t.Fatal(err)
	}
	s, stop := serving(t, Options{Config: cfg})
	hook := kubetest.ShippedWebhook(t)
	hook["failurePolicy"], hook["clientConfig"] = "Fail", map[string]any{"url": "https://" + s.Addrs().Admission.String() + "/validate"}
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
		map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
			"metadata": map[string]any{"name": "peregrine"}, "webhooks": []any{hook}}, 201)
	waitDenied(t, k)
	auditConfigWorks(t, client, s.Addrs().Audit)
	streamAsAgent(t, s, caOf(t, client), token)
	stop()
	check()
}

// streamAsAgent connects an agent's stream for node-a, waits for the pods
// the service sends first, and disconnects.
func streamAsAgent(t *testing.T, s *Service, caPEM, token string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	pods := make(chan struct{})
	var once sync.Once
	cl := stream.NewClient(stream.ClientOptions{URL: "https://" + s.Addrs().Agents.String() + "/agent/v1/stream",
		Node: "node-a", Hostname: "node-a", TLS: &tls.Config{RootCAs: pool},
		Token: func() (string, error) { return token, nil }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnPods: func([]runtime.PodInfo) { once.Do(func() { close(pods) }) }}, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-pods
}
