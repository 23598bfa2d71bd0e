// Package manifests holds Peregrine's Kubernetes manifests; its test
// checks that they parse and keep the security settings they promise.
package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/testenv"
)

func docs(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, m)
	}
}

func TestManifestsParse(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	files = append(files, "audit-webhook.kubeconfig")
	kinds := map[string]int{}
	for _, f := range files {
		for _, d := range docs(t, f) {
			if d["apiVersion"] == nil || d["kind"] == nil {
				t.Errorf("%s: a document without apiVersion/kind", f)
			}
			kinds[d["kind"].(string)]++
		}
	}
	for _, k := range []string{"Namespace", "Deployment", "DaemonSet", "Service", "ServiceAccount", "ConfigMap", "Policy",
		"Config", "ClusterRole", "ClusterRoleBinding"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in manifests", k)
		}
	}
}

func TestServerHardening(t *testing.T) {
	b, _ := os.ReadFile("server.yaml")
	for _, want := range []string{"runAsNonRoot: true", "readOnlyRootFilesystem: true",
		"allowPrivilegeEscalation: false", "drop: [ALL]", "allowed_client_names: [kube-apiserver]",
		"allowed_client_names: [peregrine-agent]"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("server.yaml lacks %q", want)
		}
	}
}

// shippedConfig loads the configuration in a file's ConfigMap.
func shippedConfig(t *testing.T, file string) *config.Config {
	var path string
	var overrides []string
	for _, d := range docs(t, file) {
		switch d["kind"] {
		case "ConfigMap":
			path = filepath.Join(t.TempDir(), "peregrine.yaml")
			os.WriteFile(path, []byte(d["data"].(map[string]any)["peregrine.yaml"].(string)), 0o600)
		case "Deployment", "DaemonSet":
			overrides = optionArgs(podContainers(d, "containers")[0])
		}
	}
	if path == "" {
		t.Fatalf("no ConfigMap in %s", file)
	}
	cfg, err := config.Load(path, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// optionArgs is the -o overrides of a container's args, with $(POD_IP)
// as the kubelet expands it.
func optionArgs(c map[string]any) []string {
	var out []string
	args := asList(c["args"])
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-o" {
			out = append(out, strings.ReplaceAll(args[i+1].(string), "$(POD_IP)", "10.0.0.7"))
		}
	}
	return out
}

// TestShippedConfigs: the configurations in the ConfigMaps load, and every
// listener that crosses the network has TLS and client authentication:
// the service's own certificates (certificates.secret) or files.
func TestShippedConfigs(t *testing.T) {
	srv := shippedConfig(t, "server.yaml")
	managed := srv.Certificates.Secret != "" && srv.Certificates.Webhook == "peregrine" && len(srv.Certificates.DNSNames) == 4 &&
		slices.Contains(srv.Certificates.DNSNames, "10.0.0.7") // agents link to each replica by its pod's IP
	for name, la := range map[string]config.ListenerAuth{"k8s_audit": srv.K8sAudit.ListenerAuth, "agents": srv.Agents.ListenerAuth} {
		files := la.CertFile != "" && la.ClientCAFile != ""
		if !files && !managed || len(la.AllowedClientNames) == 0 {
			t.Errorf("%s listener without TLS client authentication: %+v", name, la)
		}
	}
	if !srv.Agents.Enabled {
		t.Error("the agents listener is off")
	}
	agent := shippedConfig(t, "agent.yaml")
	if !strings.HasPrefix(agent.Server.URL, "https://") || agent.Server.CAFile == "" || agent.Server.TokenFile == "" {
		t.Errorf("agent streams without TLS and its token: %+v", agent.Server)
	}
	if srv.Agents.TokenAudience != "peregrine" || len(srv.Agents.ServiceAccounts) != 1 {
		t.Errorf("the service does not check the agents' tokens: %+v", srv.Agents)
	}
}

// rule is an RBAC rule as the test compares it.
type rule struct{ Groups, Resources, Names, Verbs string }

// TestLeastPrivilege: every Role and ClusterRole grants exactly what the
// service needs (no wildcards), bound to the service only; the agent
// has no API access at all.
func TestLeastPrivilege(t *testing.T) {
	want := map[string][]rule{
		"ClusterRole/peregrine-server": {
			{"[]", "[pods]", "[]", "[get list watch]"},
			{"[admissionregistration.k8s.io]", "[validatingwebhookconfigurations]", "[peregrine]", "[get list watch update]"},
			{"[authentication.k8s.io]", "[tokenreviews]", "[]", "[create]"},
		},
		"Role/peregrine-server": {
			{"[]", "[secrets configmaps]", "[peregrine-ca]", "[get update]"},
			{"[]", "[secrets configmaps]", "[]", "[create]"},
			{"[discovery.k8s.io]", "[endpointslices]", "[]", "[list watch]"},
		},
	}
	got := map[string][]rule{}
	for _, d := range allDocs(t) {
		kind, name := fmt.Sprint(d["kind"]), nameOf(d)
		switch kind {
		case "Role", "ClusterRole":
			for _, r := range d["rules"].([]any) {
				r := r.(map[string]any)
				for _, key := range []string{"apiGroups", "resources", "resourceNames", "verbs"} {
					if slices.Contains(asList(r[key]), any("*")) {
						t.Errorf("%s/%s: %s has a wildcard", kind, name, key)
					}
				}
				got[kind+"/"+name] = append(got[kind+"/"+name], rule{fmt.Sprint(r["apiGroups"]), fmt.Sprint(r["resources"]),
					fmt.Sprint(asList(r["resourceNames"])), fmt.Sprint(r["verbs"])})
			}
		case "RoleBinding", "ClusterRoleBinding":
			if s := fmt.Sprint(d["subjects"]); s != "[map[kind:ServiceAccount name:peregrine-server namespace:peregrine]]" {
				t.Errorf("%s/%s binds %s", kind, name, s)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RBAC (-want +got):\n%s", diff)
	}
	// Whether each workload's pods get an API token: the pod's own
	// setting, else its service account's, else Kubernetes' default (yes).
	wantToken := map[string]bool{"DaemonSet/peregrine-agent": false, "Deployment/peregrine-server": true}
	if diff := cmp.Diff(wantToken, podTokens(allDocs(t))); diff != "" {
		t.Errorf("API tokens mounted (-want +got):\n%s", diff)
	}
}

// allDocs are the objects of every manifest.
func allDocs(t *testing.T) []map[string]any {
	files, _ := filepath.Glob("*.yaml")
	var out []map[string]any
	for _, f := range files {
		if f != "kustomization.yaml" {
			out = append(out, docs(t, f)...)
		}
	}
	if len(out) == 0 {
		t.Fatal("no manifests")
	}
	return out
}

// podTokens says, for each workload, whether its pods mount an API token,
// from the objects' automountServiceAccountToken.
func podTokens(objs []map[string]any) map[string]bool {
	accounts := map[string]any{}
	for _, d := range objs {
		if d["kind"] == "ServiceAccount" {
			accounts[nameOf(d)] = d["automountServiceAccountToken"]
		}
	}
	out := map[string]bool{}
	for _, d := range objs {
		spec, _ := d["spec"].(map[string]any)
		tmpl, _ := spec["template"].(map[string]any)
		pod, ok := tmpl["spec"].(map[string]any)
		if !ok {
			continue
		}
		mount, set := pod["automountServiceAccountToken"]
		if !set {
			mount = accounts[fmt.Sprint(pod["serviceAccountName"])]
		}
		out[fmt.Sprint(d["kind"])+"/"+nameOf(d)] = mount != false
	}
	return out
}

func nameOf(d map[string]any) string {
	meta, _ := d["metadata"].(map[string]any)
	return fmt.Sprint(meta["name"])
}

// TestWebhookIntercepts: the shipped ValidatingWebhookConfiguration sends
// every request the admission rules judge, subresources included (they
// must be named: "pods" matches none of them).
func TestWebhookIntercepts(t *testing.T) {
	var hooks []any
	for _, d := range docs(t, "webhook.yaml") {
		if d["kind"] == "ValidatingWebhookConfiguration" {
			hooks = d["webhooks"].([]any)
		}
	}
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(hooks))
	}
	hook := hooks[0].(map[string]any)
	// Fail-open, and never Peregrine's own namespace or the control
	// plane's: a broken webhook must not lock out its own repair.
	if hook["failurePolicy"] != "Ignore" {
		t.Errorf("failurePolicy %v, want Ignore", hook["failurePolicy"])
	}
	exempt := fmt.Sprint(hook["namespaceSelector"])
	if want := "map[matchExpressions:[map[key:kubernetes.io/metadata.name operator:NotIn values:[kube-system peregrine]]]]"; exempt != want {
		t.Errorf("namespaceSelector %s, want %s", exempt, want)
	}
	got := map[string]bool{}
	for _, r := range hook["rules"].([]any) {
		r := r.(map[string]any)
		for _, op := range r["operations"].([]any) {
			for _, res := range r["resources"].([]any) {
				got[fmt.Sprint(op, " ", res)] = true
			}
		}
	}
	for _, want := range []string{"CREATE pods", "UPDATE pods", "UPDATE pods/ephemeralcontainers",
		"CONNECT pods/exec", "CONNECT pods/attach", "CONNECT pods/portforward"} {
		if !got[want] {
			t.Errorf("the webhook does not intercept %s", want)
		}
	}
}

// TestKustomization: kubectl apply -k renders every object, and every
// image is peregrine at the tag make image wrote, never :latest.
func TestKustomization(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.Unavailable(t, "kubectl not found: cannot render the kustomization")
	}
	out, err := exec.Command(kubectl, "kustomize", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	kinds := map[string]int{}
	var images []string
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		kinds[d["kind"].(string)]++
		images = append(images, podImages(d)...)
	}
	want := map[string]int{"Namespace": 1, "ServiceAccount": 2, "ConfigMap": 2, "ClusterRole": 1, "ClusterRoleBinding": 1,
		"Role": 1, "RoleBinding": 1, "Deployment": 1, "DaemonSet": 1, "Service": 3, "ValidatingWebhookConfiguration": 1,
		"PodDisruptionBudget": 1}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	if len(images) != 2 {
		t.Fatalf("images %v", images)
	}
	for _, im := range images {
		repo, tag, _ := strings.Cut(im, ":")
		if repo != "peregrine" || tag == "" || tag == "latest" || tag != images[0][len("peregrine:"):] {
			t.Errorf("image %q: want peregrine:<version>, the same everywhere", im)
		}
	}
}

// podImages lists the container images of a workload object.
func podImages(d map[string]any) []string {
	var out []string
	for _, c := range podContainers(d, "initContainers", "containers") {
		out = append(out, fmt.Sprint(c["image"]))
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// TestAgentLeastPrivilege: the agent is not privileged and adds exactly
// the capabilities the probes need (tried on a real node; the real-node
// test runs it so).
func TestAgentLeastPrivilege(t *testing.T) {
	for _, d := range docs(t, "agent.yaml") {
		if d["kind"] != "DaemonSet" {
			continue
		}
		c := podContainers(d, "containers")[0]
		sc := c["securityContext"].(map[string]any)
		caps := sc["capabilities"].(map[string]any)
		got := fmt.Sprint(sc["privileged"], caps["drop"], caps["add"])
		if want := "false [ALL] [BPF PERFMON SYS_PTRACE DAC_READ_SEARCH]"; got != want {
			t.Errorf("agent securityContext %s, want %s", got, want)
		}
		return
	}
	t.Fatal("no DaemonSet in agent.yaml")
}

// podContainers lists the containers of a workload's pod template, of
// the lists named (containers, initContainers).
func podContainers(d map[string]any, lists ...string) []map[string]any {
	spec, _ := d["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	var out []map[string]any
	for _, l := range lists {
		for _, c := range asList(pod[l]) {
			out = append(out, c.(map[string]any))
		}
	}
	return out
}
