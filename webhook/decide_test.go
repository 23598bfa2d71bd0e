package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

func review(op admissionv1.Operation, ns, resource, sub, name string, object any, user string, groups ...string) *admissionv1.AdmissionReview {
	raw, _ := json.Marshal(object)
	kind := "Pod"
	if op == admissionv1.Connect {
		kind = "PodExecOptions"
	}
	return &admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "uid-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: kind},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: resource}, SubResource: sub,
			Name: name, Namespace: ns, Operation: op, UserInfo: authv1.UserInfo{Username: user, Groups: groups},
			Object: runtime.RawExtension{Raw: raw}},
	}
}

func pod(name string, containers ...map[string]any) map[string]any {
	cs := make([]any, len(containers))
	for i, c := range containers {
		cs[i] = c
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name}, "spec": map[string]any{"containers": cs}}
}

func container(image string, privileged, limits bool) map[string]any {
	c := map[string]any{"name": "c", "image": image}
	if privileged {
		c["securityContext"] = map[string]any{"privileged": true}
	}
	if limits {
		c["resources"] = map[string]any{"limits": map[string]any{"memory": "64Mi"}}
	}
	return c
}

func defaultDecider(t *testing.T, mode Mode, nsModes map[string]Mode) *Decider {
	t.Helper()
	set, err := inspect.LoadValid(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDecider(set, Policy{Mode: mode, NamespaceModes: nsModes, Exempt: []string{"kube-system"}}, rules.Debug, "h")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type outcomeT struct {
	Allowed  bool
	Rule     string
	Message  string
	Warnings []string
	Verdicts []string
}

func decide(t *testing.T, d *Decider, rev *admissionv1.AdmissionReview) outcomeT {
	t.Helper()
	req, err := NewRequest(rev.Request, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	dec := d.Decide(req, time.Unix(0, 0))
	o := outcomeT{Allowed: dec.Allowed, Rule: dec.Rule, Message: dec.Message}
	if len(dec.Warnings) > 0 {
		o.Warnings = dec.Warnings
	}
	for _, a := range dec.Alerts {
		o.Verdicts = append(o.Verdicts, a.Rule+"="+a.OutputFields["adm.verdict"].(string))
		if a.OutputFields["adm.id"] != req.ID {
			t.Errorf("alert lacks the request id")
		}
	}
	return o
}

func TestDecisions(t *testing.T) {
	good := pod("web", container("nginx:1.27", false, true))
	priv := pod("priv", container("nginx:1.27", true, true))
	sloppy := pod("sloppy", container("nginx", false, false))
	exec := map[string]any{"kind": "PodExecOptions", "apiVersion": "v1", "command": []string{"sh", "-c", "id"}, "container": "c", "stdin": true, "tty": true}
	enforce := defaultDecider(t, Enforce, map[string]Mode{"staging": Warn, "lab": Audit})
	tests := []struct {
		name string
		rev  *admissionv1.AdmissionReview
		want outcomeT
	}{
		{"ordinary pod", review("CREATE", "shop", "pods", "", "web", good, "alice", "devs"), outcomeT{Allowed: true}},
		{"privileged pod", review("CREATE", "shop", "pods", "", "priv", priv, "alice", "devs"), outcomeT{
			Rule: "Deny privileged container", Message: "denied by Peregrine: Deny privileged container: Privileged container refused (user=alice pod=priv ns=shop images=(nginx:1.27))",
			Verdicts: []string{"Deny privileged container=deny"}}},
		{"privileged pod, warn namespace", review("CREATE", "staging", "pods", "", "priv", priv, "alice"), outcomeT{Allowed: true,
			Rule: "Deny privileged container", Warnings: []string{"Deny privileged container: Privileged container refused (user=alice pod=priv ns=staging images=(nginx:1.27))"},
			Verdicts: []string{"Deny privileged container=warn"}}},
		{"privileged pod, audit namespace", review("CREATE", "lab", "pods", "", "priv", priv, "alice"), outcomeT{Allowed: true,
			Verdicts: []string{"Deny privileged container=allow"}}},
		{"exempt namespace", review("CREATE", "kube-system", "pods", "", "priv", priv, "alice"), outcomeT{Allowed: true}},
		{"latest and no limits", review("CREATE", "shop", "pods", "", "sloppy", sloppy, "alice"), outcomeT{Allowed: true,
			Rule: "Warn on latest image", Warnings: []string{"Warn on latest image: Image without a pinned tag (pod=sloppy ns=shop images=(nginx))",
				"Warn on missing resource limits: Containers without resource limits (pod=sloppy ns=shop containers=(c))"},
			Verdicts: []string{"Warn on latest image=warn", "Warn on missing resource limits=warn"}}},
		{"exec in production by a dev", review("CONNECT", "production", "pods", "exec", "db-0", exec, "alice", "devs"), outcomeT{
			Rule: "Deny exec into a protected namespace", Message: "denied by Peregrine: Deny exec into a protected namespace: Exec into a protected namespace refused (user=alice groups=(devs) pod=db-0 ns=production container=c command=sh -c id)",
			Verdicts: []string{"Deny exec into a protected namespace=deny"}}},
		{"exec in production by an admin", review("CONNECT", "production", "pods", "exec", "db-0", exec, "root", "system:masters"), outcomeT{Allowed: true}},
		{"exec elsewhere", review("CONNECT", "shop", "pods", "exec", "web", exec, "alice", "devs"), outcomeT{Allowed: true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, decide(t, enforce, tt.rev)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestResponse(t *testing.T) {
	rev := review("CREATE", "shop", "pods", "", "priv", pod("priv", container("nginx:1.27", true, true)), "alice")
	req, _ := NewRequest(rev.Request, time.Now())
	resp := Response(rev, defaultDecider(t, Enforce, nil).Decide(req, time.Now()))
	if resp.APIVersion != "admission.k8s.io/v1" || resp.Response.UID != "uid-1" || resp.Response.Allowed ||
		resp.Response.Result.Code != 403 || resp.Response.AuditAnnotations[AnnotationKey] != req.ID || len(req.ID) != 24 {
		t.Errorf("response %+v", resp.Response)
	}
}

func TestDecodeReviewErrors(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{`, "malformed AdmissionReview: unexpected end of JSON input"},
		{`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, `unsupported review "admission.k8s.io/v1beta1" "AdmissionReview": want admission.k8s.io/v1 AdmissionReview`},
		{`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "AdmissionReview has no request"},
		{`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, "AdmissionReview request has no uid"},
	} {
		if _, err := DecodeReview([]byte(tt.body)); err == nil || err.Error() != tt.want {
			t.Errorf("DecodeReview(%s) = %v, want %q", tt.body, err, tt.want)
		}
	}
}

func TestLimitWarnings(t *testing.T) {
	long := strings.Repeat("x", 300)
	var ws []string
	for range 20 {
		ws = append(ws, long)
	}
	got := limitWarnings(ws)
	total := 0
	for _, w := range got[:len(got)-1] {
		if len(w) != maxWarning {
			t.Errorf("warning of %d bytes", len(w))
		}
		total += len(w)
	}
	if total > maxWarningTotal || !strings.HasPrefix(got[len(got)-1], "... and ") {
		t.Errorf("total %d, last %q", total, got[len(got)-1])
	}
}
