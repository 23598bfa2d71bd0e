package webhook

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// debugReview is the update of pods/ephemeralcontainers that kubectl debug
// sends: the whole pod before and after, the after one with added.
func debugReview(ns, user string, groups []string, old []map[string]any, added ...map[string]any) *admissionv1.AdmissionReview {
	before := pod("db-0", container("postgres:17", false, true))
	spec := before["spec"].(map[string]any)
	spec["ephemeralContainers"] = old
	after := pod("db-0", container("postgres:17", false, true))
	after["spec"].(map[string]any)["ephemeralContainers"] = append(append([]map[string]any{}, old...), added...)
	rev := review("UPDATE", ns, "pods", "ephemeralcontainers", "db-0", after, user, groups...)
	raw, _ := json.Marshal(before)
	rev.Request.OldObject = runtime.RawExtension{Raw: raw}
	return rev
}

func debugContainer(name, image string, sc map[string]any, command ...string) map[string]any {
	c := map[string]any{"name": name, "image": image, "targetContainerName": "c", "stdin": true, "tty": true}
	if sc != nil {
		c["securityContext"] = sc
	}
	if len(command) > 0 {
		c["command"] = command
	}
	return c
}

func TestEphemeralContainerDecisions(t *testing.T) {
	devs := []string{"devs"}
	privileged := map[string]any{"privileged": true}
	netadmin := map[string]any{"capabilities": map[string]any{"add": []string{"NET_ADMIN", "NET_RAW"}}}
	sysadmin := debugContainer("debugger-x1", "busybox:1.36", privileged, "sleep", "1000")
	plain := debugContainer("debugger-p2", "busybox:1.36", nil, "sh")
	enforce := defaultDecider(t, Enforce, nil)
	tests := []struct {
		name string
		rev  *admissionv1.AdmissionReview
		want outcomeT
	}{
		{"privileged debug container (--profile=sysadmin)", debugReview("shop", "alice", devs, nil, sysadmin), outcomeT{
			Rule: "Deny privileged debug container", Message: "denied by Peregrine: Deny privileged debug container: Privileged debug container refused (user=alice pod=db-0 ns=shop containers=(debugger-x1) images=(busybox:1.36) target=(c))",
			Verdicts: []string{"Deny privileged debug container=deny"}}},
		{"capabilities beyond the baseline (--profile=netadmin)", debugReview("shop", "alice", devs, nil,
			debugContainer("debugger-n3", "busybox:1.36", netadmin)), outcomeT{
			Rule: "Deny capabilities beyond the baseline", Message: "denied by Peregrine: Deny capabilities beyond the baseline: Capabilities beyond the baseline refused (user=alice pod=db-0 ns=shop capabilities=<NA> init_capabilities=<NA> debug_capabilities=(NET_ADMIN,NET_RAW))",
			Verdicts: []string{"Deny capabilities beyond the baseline=deny"}}},
		{"ordinary debug container", debugReview("shop", "alice", devs, nil, plain), outcomeT{Allowed: true}},
		{"only the added container is judged", debugReview("shop", "alice", devs, []map[string]any{sysadmin}, plain), outcomeT{Allowed: true}},
		{"debug container in a protected namespace by a dev", debugReview("production", "alice", devs, nil, plain), outcomeT{
			Rule: "Deny debug container in a protected namespace", Message: "denied by Peregrine: Deny debug container in a protected namespace: Debug container in a protected namespace refused (user=alice groups=(devs) pod=db-0 ns=production containers=(debugger-p2) images=(busybox:1.36) target=(c) command=(sh))",
			Verdicts: []string{"Deny debug container in a protected namespace=deny"}}},
		{"debug container in a protected namespace by an admin", debugReview("production", "root", []string{"system:masters"}, nil, plain), outcomeT{Allowed: true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, decide(t, enforce, tt.rev)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCapabilityDecisions(t *testing.T) {
	withCaps := func(caps ...string) map[string]any {
		c := container("nginx:1.27", false, true)
		c["securityContext"] = map[string]any{"capabilities": map[string]any{"add": caps, "drop": []string{"ALL"}}}
		return pod("caps", c)
	}
	enforce := defaultDecider(t, Enforce, nil)
	tests := []struct {
		name string
		rev  *admissionv1.AdmissionReview
		want outcomeT
	}{
		{"baseline capability", review("CREATE", "shop", "pods", "", "caps", withCaps("NET_BIND_SERVICE"), "alice"), outcomeT{Allowed: true}},
		{"SYS_ADMIN among baseline ones", review("CREATE", "shop", "pods", "", "caps", withCaps("CHOWN", "SYS_ADMIN"), "alice"), outcomeT{
			Rule: "Deny capabilities beyond the baseline", Message: "denied by Peregrine: Deny capabilities beyond the baseline: Capabilities beyond the baseline refused (user=alice pod=caps ns=shop capabilities=(CHOWN,SYS_ADMIN) init_capabilities=<NA> debug_capabilities=<NA>)",
			Verdicts: []string{"Deny capabilities beyond the baseline=deny"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, decide(t, enforce, tt.rev)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestEphemeralFields(t *testing.T) {
	rev := debugReview("shop", "alice", nil, []map[string]any{debugContainer("old", "busybox:1.35", nil)},
		debugContainer("new", "registry.local/tools/busybox:1.36", map[string]any{"runAsUser": 1000, "privileged": false}, "sh", "-c"))
	req, err := NewRequest(rev.Request, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, name := range []string{"adm.ephemeral.name", "adm.ephemeral.image", "adm.ephemeral.image.repository", "adm.ephemeral.command",
		"adm.ephemeral.target", "adm.ephemeral.privileged", "adm.ephemeral.add_capabilities", "adm.ephemeral.run_as_user"} {
		a, ok := admFields[name]("")
		if !ok {
			t.Fatalf("%s: no accessor", name)
		}
		for i := range a.N(req) {
			got[name] = append(got[name], a.At(req, i))
		}
	}
	want := map[string][]string{
		"adm.ephemeral.name": {"new"}, "adm.ephemeral.image": {"registry.local/tools/busybox:1.36"},
		"adm.ephemeral.image.repository": {"registry.local/tools/busybox"}, "adm.ephemeral.command": {"sh -c"},
		"adm.ephemeral.target": {"c"}, "adm.ephemeral.privileged": {"false"}, "adm.ephemeral.run_as_user": {"1000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}
