package realnode

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/peregrine-sec/peregrine/internal/image"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/kube"
	"github.com/peregrine-sec/peregrine/manifests"
	"github.com/peregrine-sec/peregrine/selftest"
)

// serviceIP is the peregrine-server Service's cluster IP in the test
// overlay: the apiserver posts audit events there (it resolves no
// Service names), so the serving certificate names it.
const serviceIP = "10.0.0.50"

func moduleRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..")
}

// buildImage builds the static binary and the image peregrine:e2e.
func buildImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "peregrine")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/peregrine")
	cmd.Dir, cmd.Env = moduleRoot(), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build peregrine: %v\n%s", err, out)
	}
	tar := filepath.Join(dir, "peregrine-image.tar")
	if err := image.Write(tar, image.Options{Binary: bin, CACerts: "/etc/ssl/certs/ca-certificates.crt",
		Tag: "peregrine:e2e", Version: "e2e", Created: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	return tar
}

// writeOverlay writes the test's kustomize overlay of manifests/: the
// image just built (never pulled), the Service at a fixed cluster IP the
// serving certificate names, and the service's configuration with it.
func writeOverlay(t *testing.T, alertsURL string) string {
	t.Helper()
	dir := t.TempDir()
	base, err := filepath.Rel(dir, filepath.Join(moduleRoot(), "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	never := "- op: add\n  path: /spec/template/spec/containers/0/imagePullPolicy\n  value: Never\n"
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
		"resources": []string{base},
		"images":    []any{map[string]any{"name": "peregrine", "newTag": "e2e"}},
		"patches": []any{
			map[string]any{"target": map[string]any{"kind": "Deployment", "name": "peregrine-server"}, "patch": never},
			map[string]any{"target": map[string]any{"kind": "DaemonSet", "name": "peregrine-agent"}, "patch": never},
			map[string]any{"target": map[string]any{"kind": "Service", "name": "peregrine-server"},
				"patch": "- op: add\n  path: /spec/clusterIP\n  value: " + serviceIP + "\n"},
			map[string]any{"target": map[string]any{"kind": "ConfigMap", "name": "peregrine-config"},
				"patch": configPatch(t, "server.yaml", alertsURL)},
			map[string]any{"target": map[string]any{"kind": "ConfigMap", "name": "peregrine-agent-config"},
				"patch": configPatch(t, "agent.yaml", "")},
			map[string]any{"target": map[string]any{"kind": "Deployment", "name": "peregrine-server"}, "patch": mountRules},
			map[string]any{"target": map[string]any{"kind": "Deployment", "name": "peregrine-server"}, "patch": certNamesPatch(t)},
			map[string]any{"target": map[string]any{"kind": "DaemonSet", "name": "peregrine-agent"}, "patch": mountRules},
		},
		"configMapGenerator": []any{map[string]any{"name": "peregrine-e2e-rules", "namespace": "peregrine",
			"files": []string{"rules.yaml"}, "options": map[string]any{"disableNameSuffixHash": true}}},
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), e2eRules(t), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := yaml.Marshal(k)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mountRules mounts the test's rules (the built-in ones and
// testdata/e2e_rules.yaml) into a workload.
const mountRules = `- op: add
  path: /spec/template/spec/volumes/-
  value: {name: e2e-rules, configMap: {name: peregrine-e2e-rules}}
- op: add
  path: /spec/template/spec/containers/0/volumeMounts/-
  value: {name: e2e-rules, mountPath: /etc/peregrine/rules, readOnly: true}
`

func e2eRules(t *testing.T) []byte {
	t.Helper()
	builtin, err := os.ReadFile(filepath.Join(moduleRoot(), "policies", "peregrine_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	extra, err := os.ReadFile("testdata/e2e_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return append(append(builtin, '\n'), extra...)
}

// certNamesPatch adds serviceIP (the apiserver posts audit batches to it)
// to the names the service's certificate carries, which the Deployment's
// args set.
func certNamesPatch(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(), "manifests", "server.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var d struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if yaml.Unmarshal([]byte(doc), &d) != nil || d.Kind != "Deployment" {
			continue
		}
		for i, a := range d.Spec.Template.Spec.Containers[0].Args {
			if strings.HasPrefix(a, "certificates.dns_names=[") {
				patch, _ := yaml.Marshal([]any{map[string]any{"op": "replace", "path": fmt.Sprintf("/spec/template/spec/containers/0/args/%d", i),
					"value": strings.TrimSuffix(a, "]") + "," + serviceIP + "]"}})
				return string(patch)
			}
		}
	}
	t.Fatal("the service's Deployment sets no certificate names")
	return ""
}

// configPatch replaces the configuration in a shipped ConfigMap with one
// that loads the test's rules and, for the service (alertsURL set), whose
// certificate also names serviceIP and whose alerts also go to alertsURL.
func configPatch(t *testing.T, file, alertsURL string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(), "manifests", file))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var d struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if yaml.Unmarshal([]byte(doc), &d) == nil && d.Kind == "ConfigMap" {
			if err := yaml.Unmarshal([]byte(d.Data["peregrine.yaml"]), &cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg["rules_files"] = []string{"/etc/peregrine/rules/rules.yaml"}
	cfg["rule_matching"] = "all" // the test's rules fire beside the built-in ones
	if alertsURL != "" {
		cfg["http_output"] = map[string]any{"enabled": true, "url": alertsURL}
	}
	text, _ := yaml.Marshal(cfg)
	patch, _ := yaml.Marshal([]any{map[string]any{"op": "replace", "path": "/data/peregrine.yaml", "value": string(text)}})
	return string(patch)
}

// TestInstallOnRealNode: kubectl apply -k installs Peregrine on a real
// node; admission refuses a privileged pod through the Service; a real
// kubectl exec's shell reading /etc/shadow raises an alert, from the
// agent pod through the service, that names the Kubernetes user.
func TestInstallOnRealNode(t *testing.T) {
	c := startCluster(t)
	img := buildImage(t)
	start := time.Now()
	c.ctrImport(t, img)
	col := startCollector(t, c.env["REALNODE_NODE_IP"])
	c.mustKubectl(t, "apply", "-k", writeOverlay(t, col.url))
	defer c.dumpOnFailure(t)
	c.mustKubectl(t, "-n", "peregrine", "rollout", "status", "deployment/peregrine-server", "--timeout=180s")
	c.mustKubectl(t, "-n", "peregrine", "rollout", "status", "daemonset/peregrine-agent", "--timeout=180s")
	t.Logf("installed and Ready in %s", time.Since(start).Round(time.Second))

	c.mustKubectl(t, "create", "namespace", "shop")
	privileged := func(extra ...string) (string, error) {
		return c.kubectl("admin", append([]string{"-n", "shop", "run", "priv", "--image=" + c.env["REALNODE_BUSYBOX_IMAGE"],
			"--image-pull-policy=Never", `--overrides={"spec":{"containers":[{"name":"priv","image":"` + c.env["REALNODE_BUSYBOX_IMAGE"] +
				`","imagePullPolicy":"Never","command":["sleep","3600"],"securityContext":{"privileged":true}}]}}`}, extra...)...)
	}
	// The webhook fails open (failurePolicy Ignore) until the apiserver
	// has the caBundle the service set and kube-proxy routes its Service:
	// wait for a dry run to be judged, as an operator would.
	start = time.Now()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		out, _ := privileged("--dry-run=server")
		if strings.Contains(out, "denied by Peregrine") || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("admission enforced %s after Ready", time.Since(start).Round(100*time.Millisecond))
	out, err := privileged()
	if err == nil || !strings.Contains(out, "denied by Peregrine: Deny privileged container") {
		t.Errorf("privileged pod: %v\n%s", err, out)
	}

	auditLog := c.wireAudit(t)

	// The container itself runs the command alice will exec, every 2 s.
	c.mustKubectl(t, "-n", "shop", "run", "app", "--image="+c.env["REALNODE_BUSYBOX_IMAGE"], "--image-pull-policy=Never",
		"--command", "--", "sh", "-c", `while :; do sh -c "cat /etc/shadow" >/dev/null; sleep 2; done`)
	c.mustKubectl(t, "-n", "shop", "wait", "pod/app", "--for=condition=Ready", "--timeout=120s")
	// The pod watch knows the pod once the container's own reads carry its
	// name (after the apiserver restart the watch takes a while to return).
	c.waitLog(t, time.Minute, `"rule":"E2E shadow read"`, `"k8s.pod.name":"app"`)
	c.waitAgentLinked(t)
	if out, err := c.kubectl("alice", "-n", "shop", "exec", "app", "--", "sh", "-c", "cat /etc/shadow"); err != nil {
		t.Fatalf("alice's exec: %v\n%s", err, out)
	}
	c.checkAttribution(t)
	c.checkHistory(t)
	c.checkDebug(t)
	c.measureExecLatency(t, 20)

	var report strings.Builder
	err = selftest.Run(context.Background(), selftest.Options{Config: c.restConfig(t), Image: c.env["REALNODE_BUSYBOX_IMAGE"],
		PullPolicy: corev1.PullNever, ServiceNamespace: "peregrine", ServiceSelector: "app.kubernetes.io/name=peregrine-server",
		Timeout: time.Minute, Out: &report})
	t.Logf("selftest:\n%s", report.String())
	if err != nil {
		t.Error(err)
	}
	c.checkRestart(t, col, auditLog)
}

func (c *cluster) restConfig(t *testing.T) *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// wireAudit does what an operator does on the control plane: peregrine
// audit-config's kubeconfig and policy, and the apiserver restarted with
// them. The apiserver also writes what it sends to a log, whose path it
// returns: the count of what the service must have evaluated.
func (c *cluster) wireAudit(t *testing.T) string {
	t.Helper()
	kc, err := kube.AuditKubeconfig(context.Background(), kubernetes.NewForConfigOrDie(c.restConfig(t)), kube.AuditCredential{
		Namespace: "peregrine", Secret: "peregrine-ca", URL: "https://" + serviceIP + ":9443/k8s-audit",
		CommonName: "kube-apiserver", Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcFile, policy := filepath.Join(dir, "audit-webhook.kubeconfig"), filepath.Join(dir, "audit-policy.yaml")
	os.WriteFile(kcFile, kc, 0o600)
	os.WriteFile(policy, manifests.AuditPolicy, 0o644)
	log := filepath.Join(dir, "audit.log")
	c.run(t, 3*time.Minute, []string{"REALNODE_APISERVER_ARGS=--audit-policy-file=" + policy + " --audit-webhook-config-file=" + kcFile +
		" --audit-webhook-batch-max-wait=1s --audit-log-path=" + log}, "apiserver-restart")
	c.mustKubectl(t, "wait", "node", "--all", "--for=condition=Ready", "--timeout=60s")
	return log
}

func (c *cluster) ctrImport(t *testing.T, tar string) {
	t.Helper()
	out, err := exec.Command("ctr", "--address", c.env["REALNODE_CONTAINERD_SOCK"], "-n", "k8s.io", "images", "import", tar).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
}

// waitLog waits for a line of the service's output holding every one of subs.
func (c *cluster) waitLog(t *testing.T, timeout time.Duration, subs ...string) string {
	t.Helper()
	var logs string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		logs = c.serviceLogs(-1)
		for _, l := range strings.Split(logs, "\n") {
			if testenv.ContainsAll(l, subs) {
				return l
			}
		}
	}
	t.Fatalf("no line with %q in the service's output:\n%s", subs, tail([]byte(logs), 6000))
	return ""
}

// serviceSelector selects the service's replicas.
const serviceSelector = "app.kubernetes.io/name=peregrine-server"

// serviceLogs is what every replica of the service wrote, the last tail
// lines of each (-1: all): an agent's alerts reach whichever replica its
// stream is up to.
func (c *cluster) serviceLogs(tail int) string {
	logs, _ := c.kubectl("admin", "-n", "peregrine", "logs", "-l", serviceSelector, "--tail="+strconv.Itoa(tail))
	return logs
}

// dumpOnFailure shows what the cluster and Peregrine said.
func (c *cluster) dumpOnFailure(t *testing.T) {
	if !t.Failed() {
		return
	}
	for _, args := range [][]string{{"get", "pods", "-A", "-o", "wide"}, {"-n", "peregrine", "describe", "pods"},
		{"-n", "peregrine", "logs", "-l", serviceSelector, "--prefix", "--tail=80"},
		{"-n", "peregrine", "logs", "daemonset/peregrine-agent", "--tail=80"}} {
		out, _ := c.kubectl("admin", args...)
		t.Logf("kubectl %s:\n%s", strings.Join(args, " "), tail([]byte(out), 6000))
	}
	// Each replica's view of the agents and of the sessions it routed.
	for pod, m := range c.replicaMetrics("peregrine_exec_sessions_total", "peregrine_agents_connected",
		"peregrine_agent_messages_lost_total", "peregrine_agent_alerts_total", "peregrine_agent_batches_acked_undelivered_total",
		"peregrine_output_sent_total", "peregrine_output_errors_total", "peregrine_output_dropped_total") {
		t.Logf("%s metrics:\n%s", pod, strings.Join(m, "\n"))
	}
}

// replicaMetrics is, for each replica of the service, its metrics lines
// that start with one of prefixes (read through the apiserver's proxy).
func (c *cluster) replicaMetrics(prefixes ...string) map[string][]string {
	out := map[string][]string{}
	names, _ := c.kubectl("admin", "-n", "peregrine", "get", "pods", "-l", serviceSelector, "-o", "name")
	for _, pod := range strings.Fields(names) {
		pod = strings.TrimPrefix(pod, "pod/")
		m, _ := c.kubectl("admin", "get", "--raw", "/api/v1/namespaces/peregrine/pods/"+pod+":8765/proxy/metrics")
		out[pod] = []string{}
		for _, l := range strings.Split(m, "\n") {
			for _, p := range prefixes {
				if strings.HasPrefix(l, p) {
					out[pod] = append(out[pod], l)
				}
			}
		}
	}
	return out
}

// waitAgentLinked waits until the node's agent streams to every replica
// of the service: any of them may admit the next exec. An agent links to
// the replicas it learns of from the one it reached first.
func (c *cluster) waitAgentLinked(t *testing.T) {
	t.Helper()
	var got map[string][]string
	start := time.Now()
	defer func() { t.Logf("the agent streams to every replica (waited %s)", time.Since(start).Round(time.Second)) }()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		got = c.replicaMetrics("peregrine_agents_connected ")
		linked := len(got) > 1
		for _, m := range got {
			linked = linked && slices.Equal(m, []string{"peregrine_agents_connected 1"})
		}
		if linked {
			return
		}
	}
	t.Fatalf("the agent does not stream to every replica: %v", got)
}

// checkAttribution: the read by alice's exec carries who, which session,
// which pod and container; the same command started by the container
// itself carries no session.
func (c *cluster) checkAttribution(t *testing.T) {
	t.Helper()
	cid := strings.TrimPrefix(c.mustKubectl(t, "-n", "shop", "get", "pod", "app", "-o",
		"jsonpath={.status.containerStatuses[0].containerID}"), "containerd://")
	read := alertFields(t, c.waitLog(t, 30*time.Second, `"rule":"E2E shadow read"`, `"k8s.exec.user":"alice"`))
	audited := alertFields(t, c.waitLog(t, 30*time.Second, `"rule":"E2E exec audited"`, `"ka.user.name":"alice"`))
	want := map[string]any{"k8s.exec.user": "alice", "k8s.exec.command": "sh -c cat /etc/shadow", "k8s.pod.name": "app",
		"k8s.ns.name": "shop", "container.full_id": cid, "container.id": cid[:12],
		"container.image.repository": "docker.io/library/busybox", "k8s.exec.auditid": audited["ka.auditid"]}
	for k, v := range want {
		if read[k] != v {
			t.Errorf("%s = %v, want %v", k, read[k], v)
		}
	}
	if g, _ := read["k8s.exec.groups"].(string); !strings.Contains(g, "sre") {
		t.Errorf("k8s.exec.groups = %v, want sre among them", read["k8s.exec.groups"])
	}
	// The container's own identical command carries no session, and
	// no read but alice's one is attributed.
	c.waitLog(t, 30*time.Second, `"rule":"E2E shadow read"`, `"k8s.exec.user":null`)
	time.Sleep(6 * time.Second) // past exec_sessions.wait, so that held alerts are out
	logs := c.serviceLogs(-1)
	var alices []string
	for _, l := range strings.Split(logs, "\n") {
		if testenv.ContainsAll(l, []string{`"rule":"E2E shadow read"`, `"k8s.exec.user":"alice"`}) {
			alices = append(alices, l)
		}
	}
	if n := len(alices); n != 1 { // the container reads every 2 s: a misattributed read would be counted here
		t.Errorf("%d reads attributed to alice, want 1:\n%s", n, strings.Join(alices, "\n"))
	}
}

func alertFields(t *testing.T, line string) map[string]any {
	t.Helper()
	var a struct {
		OutputFields map[string]any `json:"output_fields"`
	}
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatalf("alert %q: %v", line, err)
	}
	return a.OutputFields
}

// measureExecLatency reports the time from kubectl exec returning to the
// attributed alert in the service's output, over n execs (of a rule that
// does not read k8s.exec.auditid, which waits for the audit event).
func (c *cluster) measureExecLatency(t *testing.T, n int) {
	t.Helper()
	lines := c.follow(t)
	var lat []time.Duration
	for i := range n {
		cmd := fmt.Sprintf("cat /etc/shadow # %d", i)
		if out, err := c.kubectl("alice", "-n", "shop", "exec", "app", "--", "sh", "-c", cmd); err != nil {
			t.Fatalf("exec %d: %v\n%s", i, err, out)
		}
		done := time.Now()
		want := []string{`"rule":"E2E shadow read without audit ID"`, `"k8s.exec.command":"sh -c ` + cmd + `"`}
		for seen := false; !seen; {
			select {
			case l := <-lines:
				seen = testenv.ContainsAll(l.text, want)
				if seen {
					lat = append(lat, max(0, l.at.Sub(done)))
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("exec %d: no attributed alert", i)
			}
		}
	}
	slices.Sort(lat)
	t.Logf("exec to attributed alert over %d execs: p50 %s, p99 %s (the maximum at this count), min %s",
		n, lat[n/2].Round(time.Millisecond), lat[n-1].Round(time.Millisecond), lat[0].Round(time.Millisecond))
}

type logLine struct {
	text string
	at   time.Time
}

// follow streams the output of every replica of the service from now on,
// each line with when it was read.
func (c *cluster) follow(t *testing.T) <-chan logLine {
	t.Helper()
	cmd := exec.Command("kubectl", "--kubeconfig", c.env["KUBECONFIG"], "-n", "peregrine", "logs", "-f",
		"-l", serviceSelector, "--since=1s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan logLine, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			select {
			case lines <- logLine{sc.Text(), time.Now()}:
			default: // the test stopped reading
			}
		}
	}()
	return lines
}

// checkHistory reads the installed service's history as an operator
// does: kubectl port-forward to each replica (every replica keeps the
// alerts it delivered), the API and the UI on the pod's loopback; the
// same API from the network, without credentials, is refused.
func (c *cluster) checkHistory(t *testing.T) {
	t.Helper()
	pods := strings.Fields(c.mustKubectl(t, "-n", "peregrine", "get", "pods", "-l", serviceSelector, "-o", "name"))
	cid := strings.TrimPrefix(c.mustKubectl(t, "-n", "shop", "get", "pod", "app", "-o",
		"jsonpath={.status.containerStatuses[0].containerID}"), "containerd://")
	var sessions, alerts, bindings strings.Builder
	for i, pod := range pods {
		port := strconv.Itoa(18765 + i)
		pf := exec.Command("kubectl", "--kubeconfig", c.env["KUBECONFIG"], "-n", "peregrine", "port-forward", pod, port+":8765")
		if err := pf.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { pf.Process.Kill(); pf.Wait() }()
		base := "http://127.0.0.1:" + port
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if code, _ := httpGet(base + "/ui/"); code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the UI does not answer through kubectl port-forward", pod)
			}
		}
		_, body := httpGet(base + "/api/v1/sessions?user=alice")
		sessions.WriteString(body)
		var page struct{ Items []struct{ ID string } }
		json.Unmarshal([]byte(body), &page)
		for _, x := range page.Items {
			_, b := httpGet(base + "/api/v1/sessions/" + x.ID + "/binding")
			bindings.WriteString(b)
		}
		_, body = httpGet(base + "/api/v1/alerts?user=alice")
		alerts.WriteString(body)
	}
	if s := sessions.String(); !strings.Contains(s, `"namespace":"shop","pod":"app"`) || !strings.Contains(s, `"verdict":"allowed"`) {
		t.Errorf("alice's exec session is not in the replicas' history:\n%s", s)
	}
	if a := alerts.String(); !strings.Contains(a, `"rule":"E2E shadow read"`) {
		t.Errorf("the read alice's exec made is not in the replicas' history:\n%.2000s", a)
	}
	// The agent reported binding alice's shell, in the app's container.
	if b := bindings.String(); !strings.Contains(b, `"state":"bound","container_id":"`+cid+`"`) {
		t.Errorf("no replica keeps alice's session bound to %s:\n%s", cid, b)
	}
	ip := strings.TrimSpace(c.mustKubectl(t, "-n", "peregrine", "get", pods[0], "-o", "jsonpath={.status.podIP}"))
	if code, body := httpGet("http://" + ip + ":8765/api/v1/alerts"); code != http.StatusForbidden {
		t.Errorf("the API from the network without credentials: %d %s", code, body)
	}
}

func httpGet(url string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
