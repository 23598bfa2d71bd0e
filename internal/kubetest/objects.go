package kubetest

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Obj is a core/v1 object of kind with a spec (nil: none).
func Obj(kind, name string, spec map[string]any) map[string]any {
	o := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": name}}
	if spec != nil {
		o["spec"] = spec
	}
	return o
}

// Namespaces makes namespaces with their default service accounts.
func (e *Env) Namespaces(t testing.TB, names ...string) {
	t.Helper()
	for _, ns := range names {
		e.MustDo(t, AdminToken, http.MethodPost, "/api/v1/namespaces", Obj("Namespace", ns, nil), 201)
		e.MustDo(t, AdminToken, http.MethodPost, "/api/v1/namespaces/"+ns+"/serviceaccounts", Obj("ServiceAccount", "default", nil), 201)
	}
}

// RegisterWebhook installs Peregrine as the validating webhook at url
// (failurePolicy Fail, so that a test cannot pass because the webhook was
// skipped) for pod writes and CONNECT pods/exec and pods/attach, and waits
// until the apiserver calls it: until a dry-run privileged pod in probeNS
// is denied (Peregrine's default rules).
func (e *Env) RegisterWebhook(t testing.TB, url string, caBundle []byte, probeNS string) {
	t.Helper()
	rule := func(ops []string, resources ...string) map[string]any {
		return map[string]any{"operations": ops, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": resources}
	}
	vwc := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "peregrine"},
		"webhooks": []any{map[string]any{
			"name": "validate.peregrine.dev", "admissionReviewVersions": []string{"v1"}, "sideEffects": "None",
			"failurePolicy": "Fail", "timeoutSeconds": 5,
			"clientConfig": map[string]any{"url": url, "caBundle": base64.StdEncoding.EncodeToString(caBundle)},
			// pods/exec and pods/attach must be listed: "*" does not match subresources.
			"rules": []any{rule([]string{"CREATE", "UPDATE"}, "pods"), rule([]string{"CONNECT"}, "pods/exec", "pods/attach")},
		}},
	}
	e.MustDo(t, AdminToken, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", vwc, 201)
	probe := Obj("Pod", "probe", map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.27",
		"securityContext": map[string]any{"privileged": true}, "resources": map[string]any{"limits": map[string]any{"memory": "64Mi"}}}}})
	// The webhook is loaded by an informer: poll with a dry run until it answers.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		code, body, _ := e.Do(AdminToken, http.MethodPost, "/api/v1/namespaces/"+probeNS+"/pods?dryRun=All", probe)
		if code == 403 && strings.Contains(string(body), "denied by Peregrine") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the webhook never answered")
}
