package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// admissionEnv is `serve` with the default rules registered as the
// validating webhook of a real kube-apiserver.
type admissionEnv struct {
	kube   *kubetest.Env
	stdout *testenv.Buffer
}

func startAdmissionEnv(t testing.TB) *admissionEnv {
	t.Helper()
	kubetest.BinDir(t)
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"admission.latency_budget=2s"})
	if err != nil {
		t.Fatal(err)
	}
	env := &admissionEnv{stdout: &testenv.Buffer{}}
	s, _ := serving(t, Options{Config: cfg, Hostname: "it", Stdout: env.stdout})
	env.kube = kubetest.Start(t, kubetest.Options{CA: testpki.NewCA(t)})
	env.register(t, "https://"+s.Addrs().Admission.String()+"/validate", s.CABundle())
	return env
}

// register installs the webhook in the test namespaces.
func (e *admissionEnv) register(t testing.TB, url string, ca []byte) {
	e.kube.Namespaces(t, "shop", "production")
	e.kube.RegisterWebhook(t, url, ca, "shop")
}

func privilegedPod(name string) map[string]any {
	return obj("Pod", name, map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.27",
		"securityContext": map[string]any{"privileged": true}, "resources": limits()}}})
}

func limits() map[string]any { return map[string]any{"limits": map[string]any{"memory": "64Mi"}} }

// TestRealAPIServerAdmission: the default admission rules enforced by a
// real kube-apiserver through the validating webhook.
func TestRealAPIServerAdmission(t *testing.T) {
	e := startAdmissionEnv(t)
	k := e.kube
	// A privileged pod is refused with our message.
	code, body, err := k.Do(kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods", privilegedPod("priv"))
	if err != nil || code != 403 || !strings.Contains(string(body), "denied by Peregrine: Deny privileged container: Privileged container refused (user=kube-admin pod=priv ns=shop") {
		t.Errorf("privileged pod: %d %s %v", code, body, err)
	}
	// An ordinary pod is admitted, without warnings.
	ordinary := obj("Pod", "web", map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.27", "resources": limits()}}})
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods", ordinary, 201)
	// Warn rules come back as warnings in the client's response.
	sloppy := obj("Pod", "sloppy", map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}})
	hdr := k.MustDoHeaders(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods", sloppy, 201)
	warnings := strings.Join(hdr.Values("Warning"), "\n")
	for _, want := range []string{"Warn on latest image: Image without a pinned tag (pod=sloppy ns=shop images=(nginx))",
		"Warn on missing resource limits: Containers without resource limits (pod=sloppy ns=shop containers=(c))"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warning %q missing from %q", want, warnings)
		}
	}
	// Exec into a protected namespace: refused for alice (devs), admitted
	// for the admin (system:masters), who then fails at the missing kubelet.
	e.execTarget(t)
	path := "/api/v1/namespaces/production/pods/db-0/exec?command=sh&stdin=true&tty=true&container=c"
	// RBAC picks the new RoleBinding up through an informer: until then the
	// apiserver itself forbids alice, before admission.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body, _ = k.Do(kubetest.AliceToken, http.MethodPost, path, nil)
		if !strings.Contains(string(body), "cannot create resource") || time.Now().After(deadline) {
			break
		}
	}
	if code != 403 || !strings.Contains(string(body), "denied by Peregrine: Deny exec into a protected namespace: Exec into a protected namespace refused (user=alice groups=(devs") {
		t.Errorf("alice's exec: %d %s", code, body)
	}
	code, body, _ = k.Do(kubetest.AdminToken, http.MethodPost, path, nil)
	if code == 403 || strings.Contains(string(body), "denied by Peregrine") {
		t.Errorf("admin's exec was refused: %d %s", code, body)
	}
	t.Run("debug containers", func(t *testing.T) { e.debugContainers(t) })
}

// debugContainers: kubectl debug's update of pods/ephemeralcontainers
// reaches admission through the shipped webhook rules and is judged like
// a container (privileged) and like an exec (protected namespaces).
func (e *admissionEnv) debugContainers(t *testing.T) {
	k := e.kube
	debug := func(name string, sc map[string]any) map[string]any {
		c := map[string]any{"name": name, "image": "busybox:1.36", "targetContainerName": "c", "stdin": true, "tty": true,
			"command": []string{"sh"}}
		if sc != nil {
			c["securityContext"] = sc
		}
		return map[string]any{"spec": map[string]any{"ephemeralContainers": []any{c}}}
	}
	const web = "/api/v1/namespaces/shop/pods/web/ephemeralcontainers"
	code, body, err := k.Do(kubetest.AdminToken, http.MethodPatch, web, debug("debugger-priv", map[string]any{"privileged": true}))
	if err != nil || code != 403 || !strings.Contains(string(body), "denied by Peregrine: Deny privileged debug container: Privileged debug container refused (user=kube-admin pod=web ns=shop containers=(debugger-priv) images=(busybox:1.36) target=(c))") {
		t.Errorf("privileged debug container: %d %s %v", code, body, err)
	}
	k.MustDo(t, kubetest.AdminToken, http.MethodPatch, web, debug("debugger-ok", nil), 200)
	// In a protected namespace: alice (devs) is refused by Peregrine once
	// RBAC lets her patch the subresource; the admin is not.
	const db = "/api/v1/namespaces/production/pods/db-0/ephemeralcontainers"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body, _ = k.Do(kubetest.AliceToken, http.MethodPatch, db, debug("debugger-alice", nil))
		if !strings.Contains(string(body), "cannot patch resource") || time.Now().After(deadline) {
			break
		}
	}
	if code != 403 || !strings.Contains(string(body), "denied by Peregrine: Deny debug container in a protected namespace: Debug container in a protected namespace refused (user=alice groups=(devs") {
		t.Errorf("alice's debug container: %d %s", code, body)
	}
	k.MustDo(t, kubetest.AdminToken, http.MethodPatch, db, debug("debugger-admin", nil), 200)
}

// execTarget makes a pod bound to a (fake) node, so that exec reaches
// admission, and lets alice exec into it as far as RBAC goes.
func (e *admissionEnv) execTarget(t *testing.T) {
	k := e.kube
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/nodes", obj("Node", "fake-node-1", nil), 201)
	db := obj("Pod", "db-0", map[string]any{"nodeName": "fake-node-1", "containers": []any{map[string]any{"name": "c", "image": "postgres:17", "resources": limits()}}})
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/production/pods", db, 201)
	role := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": map[string]any{"name": "exec"},
		"rules": []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"pods", "pods/exec", "pods/ephemeralcontainers"}, "verbs": []string{"get", "create", "patch"}}}}
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/apis/rbac.authorization.k8s.io/v1/namespaces/production/roles", role, 201)
	binding := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "devs-exec"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "exec"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}}}
	k.MustDo(t, kubetest.AdminToken, http.MethodPost, "/apis/rbac.authorization.k8s.io/v1/namespaces/production/rolebindings", binding, 201)
}
