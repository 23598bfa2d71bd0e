package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
	"github.com/peregrine-sec/peregrine/stream"
)

// tokenFor asks the apiserver for a ServiceAccount token of audience aud,
// bound to pod when it is not "" (as the kubelet projects one).
func tokenFor(t *testing.T, k *kubetest.Env, sa, aud, pod string) string {
	t.Helper()
	spec := map[string]any{"audiences": []string{aud}}
	if pod != "" {
		var p struct {
			Metadata struct{ UID string } `json:"metadata"`
		}
		json.Unmarshal(k.MustDo(t, kubetest.AdminToken, http.MethodGet, "/api/v1/namespaces/peregrine/pods/"+pod, nil, 200), &p)
		spec["boundObjectRef"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "name": pod, "uid": p.Metadata.UID}
	}
	b := k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/peregrine/serviceaccounts/"+sa+"/token",
		map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}, 201)
	var tr struct {
		Status struct{ Token string } `json:"status"`
	}
	json.Unmarshal(b, &tr)
	return tr.Status.Token
}

// helloAs opens an agent stream saying node, with token; it returns the
// status and the error text.
func helloAs(t *testing.T, addr net.Addr, token, node string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	stream.WriteFrame(&body, stream.KindHello, stream.Hello{Node: node, Hostname: node})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr.String()+"/agent/v1/stream", &body)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		return 200, ""
	}
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

// TestAgentTokens: agents authenticate with projected ServiceAccount
// tokens checked by TokenReview against the real apiserver, and speak for
// the node their token is bound to, never another.
func TestAgentTokens(t *testing.T) {
	k, kubeconfig := startKube(t, "peregrine")
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/peregrine/serviceaccounts", kubetest.Obj("ServiceAccount", "peregrine-agent", nil), 201)
	for _, n := range []string{"node-a", "node-b"} {
		k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/nodes", kubetest.Obj("Node", n, nil), 201)
		k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/peregrine/pods", kubetest.Obj("Pod", "agent-"+n, map[string]any{
			"nodeName": n, "serviceAccountName": "peregrine-agent", "containers": []any{map[string]any{"name": "a", "image": "peregrine:test"}}}), 201)
	}
	reg := prometheus.NewRegistry()
	addr := serveAgents(t, reg, "kubernetes.kubeconfig="+kubeconfig)
	tokenA := tokenFor(t, k, "peregrine-agent", "peregrine", "agent-node-a")
	type res struct {
		Code int
		Msg  string
	}
	for _, tt := range []struct {
		name, token, node string
		want              res
	}{
		{"bound to its node", tokenA, "node-a", res{200, ""}},
		{"claims another node", tokenA, "node-b", res{403, `stream: this agent's credential is for node "node-a", not "node-b"`}},
		{"another audience", tokenFor(t, k, "peregrine-agent", "elsewhere", "agent-node-a"), "node-a",
			res{401, `{"error":"` + errUnauthenticated.Error() + `"}`}},
		{"bound to no pod", tokenFor(t, k, "peregrine-agent", "peregrine", ""), "node-a", res{403, `{"error":"` + errNoNode.Error() + `"}`}},
		{"another service account", tokenFor(t, k, "default", "peregrine", ""), "node-a",
			res{403, `{"error":"` + errNotAgent.Error() + `: system:serviceaccount:peregrine:default"}`}},
		{"not a token", "junk", "node-a", res{401, `{"error":"` + errUnauthenticated.Error() + `"}`}},
	} {
		code, msg := helloAs(t, addr, tt.token, tt.node)
		if diff := cmp.Diff(tt.want, res{code, msg}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if n := counterValue(t, reg, "peregrine_agent_auth_failures_total", "no_node"); n != 1 {
		t.Errorf("unbound tokens counted %v, want 1", n)
	}
}

// counterValue reads one labelled series of a counter vector.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestAgentTokenReviewDown: when the TokenReview cannot be made, the agent
// is refused and the failure counted; it is never admitted.
func TestAgentTokenReviewDown(t *testing.T) {
	ca := testpki.NewCA(t)
	reg := prometheus.NewRegistry()
	addr := serveAgents(t, reg, "kubernetes.kubeconfig="+kubetest.Kubeconfig(t, ca, kubetest.FreePort(t), kubetest.AdminToken),
		"agents.token_review_timeout=500ms")
	if code, msg := helloAs(t, addr, "some-token", "node-a"); code != 401 {
		t.Errorf("review down: %d %s, want 401", code, msg)
	}
	if n := counterValue(t, reg, "peregrine_agent_auth_failures_total", "review_failed"); n != 1 {
		t.Errorf("review failures counted %v, want 1", n)
	}
}

// serveAgents runs serve with the agents listener taking tokens of
// audience peregrine from peregrine:peregrine-agent.
func serveAgents(t *testing.T, reg *prometheus.Registry, extra ...string) net.Addr {
	t.Helper()
	cfg, err := config.Load("", append([]string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.enabled=false",
		"exec_sessions.enabled=false", "agents.enabled=true", "agents.listen_port=0", "agents.token_audience=peregrine",
		"agents.service_accounts=[peregrine:peregrine-agent]"}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := serving(t, Options{Config: cfg, Registry: reg})
	return s.Addrs().Agents
}

// TestAgentRefusalAnswered: a refused agent gets its answer while its
// request body is still open (the stream never ends it), and retries.
func TestAgentRefusalAnswered(t *testing.T) {
	ca := testpki.NewCA(t)
	addr := serveAgents(t, prometheus.NewRegistry(), "kubernetes.kubeconfig="+kubetest.Kubeconfig(t, ca, kubetest.FreePort(t), kubetest.AdminToken),
		"agents.token_review_timeout=500ms")
	var logs testenv.Buffer
	cl := stream.NewClient(stream.ClientOptions{URL: "http://" + addr.String() + "/agent/v1/stream", Node: "n", Hostname: "h",
		Token: func() (string, error) { return "some-token", nil }, Log: slog.New(slog.NewTextHandler(&logs, nil))}, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testenv.WaitLine(t, &logs, 5*time.Second, "stream to the service down", "service answered 401 Unauthorized")
}
