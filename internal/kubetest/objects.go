package kubetest

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
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

// RegisterWebhook installs Peregrine as the validating webhook at url,
// with the rules and namespace selector exactly as manifests/webhook.yaml
// ships them (what it intercepts is part of what is tested) but
// failurePolicy Fail, so that a test cannot pass because the webhook was
// skipped, and waits until the apiserver calls it: until a dry-run
// privileged pod in probeNS is denied (Peregrine's default rules).
func (e *Env) RegisterWebhook(t testing.TB, url string, caBundle []byte, probeNS string) {
	t.Helper()
	hook := ShippedWebhook(t)
	hook["failurePolicy"] = "Fail"
	hook["timeoutSeconds"] = 5
	hook["clientConfig"] = map[string]any{"url": url, "caBundle": base64.StdEncoding.EncodeToString(caBundle)}
	vwc := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{"name": "peregrine"}, "webhooks": []any{hook},
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

// ShippedWebhook is the one webhook of the ValidatingWebhookConfiguration
// in manifests/webhook.yaml.
func ShippedWebhook(t testing.TB) map[string]any {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(self), "..", "..", "manifests", "webhook.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read shipped webhook: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc struct {
			Kind     string           `yaml:"kind"`
			Webhooks []map[string]any `yaml:"webhooks"`
		}
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: no ValidatingWebhookConfiguration with one webhook: %v", path, err)
		}
		if doc.Kind == "ValidatingWebhookConfiguration" && len(doc.Webhooks) == 1 {
			return doc.Webhooks[0]
		}
	}
}
