package allinone

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/agent"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
	"github.com/peregrine-sec/peregrine/server"
)

// cluster is `peregrine run` wired to a real kube-apiserver (audit webhook,
// validating webhook, pod watch) with the real eBPF agent.
type cluster struct {
	kube   *kubetest.Env
	stdout *testenv.Buffer
	reg    *prometheus.Registry
	out    io.Writer // where alerts go: stdout, or a benchmark's writer too
	// announcer is who announces sessions: admission, or audit when no
	// webhook is installed.
	announcer string
	stop      func() // stops Peregrine (the end of the test does too)
}

// startCluster runs with our default rules and testdata/session_rules.yaml.
func startCluster(t testing.TB) *cluster {
	return startClusterWith(t, true, nil, "../policies/peregrine_rules.yaml", "testdata/session_rules.yaml")
}

// startClusterWith runs with the rules given, the admission webhook
// installed or not (then audit events alone announce sessions), alerts
// also to tee when set.
func startClusterWith(t testing.TB, webhook bool, tee io.Writer, rulesFiles ...string) *cluster {
	testenv.RequireKernel(t)
	kubetest.BinDir(t)
	ca := testpki.NewCA(t)
	cert, key := ca.Serving(t, "peregrine")
	port := kubetest.FreePort(t)
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"admission.latency_budget=2s", "k8s_audit.cert_file=" + cert, "k8s_audit.key_file=" + key,
		"k8s_audit.client_ca_file=" + ca.CertPEM, "rule_matching=all", "exec_sessions.wait=10s", storePath(t),
		"rules_files=[" + strings.Join(rulesFiles, ",") + "]",
		"kubernetes.kubeconfig=" + kubetest.Kubeconfig(t, ca, port, kubetest.AdminToken)})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{stdout: &testenv.Buffer{}, reg: prometheus.NewRegistry(), announcer: "admission"}
	c.out = c.stdout
	if tee != nil {
		c.out = io.MultiWriter(c.stdout, tee)
	}
	n, err := New(context.Background(), Options{Config: cfg, Hostname: "node-1", Stdout: c.out, Registry: c.reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("peregrine run: %v", err)
	}
	if !n.Capturing() {
		t.Fatal("peregrine run: the node agent did not start")
	}
	// The apiserver stops first (its cleanup, registered later, runs
	// first): its audit buffer flushes to a live endpoint.
	c.stop = running(t, n.Run)
	addrs := n.Service().Addrs()
	c.kube = kubetest.Start(t, kubetest.Options{CA: ca, AuditURL: "https://" + addrs.Audit.String() + "/k8s-audit", Port: port})
	c.kube.Namespaces(t, "shop")
	if webhook {
		c.kube.RegisterWebhook(t, "https://"+addrs.Admission.String()+"/validate", n.Service().CABundle(), "shop")
	} else {
		c.announcer = "audit"
	}
	c.allowExec(t)
	c.node(t)
	return c
}

// startStreamCluster is the same with the service and the agent apart, as
// in a cluster: `serve` with its agents listener (TLS, client certificates)
// and `agent --server`, joined by the stream.
func startStreamCluster(t *testing.T) *cluster { return startReplicas(t, 1) }

// startReplicas is the same with n replicas of serve, each naming the
// others in agents.peers: the agent is given the first only, the apiserver
// sends audit to the first and admission calls to the last, so that an
// exec admitted there reaches the agent on the link it learned.
func startReplicas(t *testing.T, n int) *cluster {
	testenv.RequireKernel(t)
	kubetest.BinDir(t)
	ca := testpki.NewCA(t)
	port := kubetest.FreePort(t)
	urls := make([]string, n)
	for i := range urls {
		urls[i] = "https://127.0.0.1:" + strconv.Itoa(kubetest.FreePort(t)) + "/agent/v1/stream"
	}
	c := &cluster{stdout: &testenv.Buffer{}, announcer: "admission"}
	svcs := make([]*server.Service, n)
	for i := range svcs {
		reg := prometheus.NewRegistry()
		svcs[i], c.reg = startReplica(t, ca, port, urls, i, c.stdout, reg), reg
	}
	agentCert, agentKey := ca.Client(t, "peregrine-agent", "")
	agentCfg, err := config.Load("", []string{"rule_matching=all", "rules_files=[../policies/peregrine_rules.yaml,testdata/session_rules.yaml]",
		"stdout_output.enabled=false", "exec_sessions.wait=10s", "server.url=" + urls[0],
		"server.ca_file=" + ca.CertPEM, "server.cert_file=" + agentCert, "server.key_file=" + agentKey, "server.node_name=node-1"})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Options{Config: agentCfg, Hostname: "node-1", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("agent: %v", err)
	}
	var stops []func()
	for _, svc := range svcs {
		stops = append(stops, running(t, svc.Serve)) // they stop after the agent, whose cleanup runs first
	}
	stops = append(stops, running(t, ag.Run))
	c.stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	first, last := svcs[0], svcs[n-1]
	c.kube = kubetest.Start(t, kubetest.Options{CA: ca, AuditURL: "https://" + first.Addrs().Audit.String() + "/k8s-audit", Port: port})
	c.kube.Namespaces(t, "shop")
	c.kube.RegisterWebhook(t, "https://"+last.Addrs().Admission.String()+"/validate", last.CABundle(), "shop")
	c.allowExec(t)
	c.node(t)
	return c
}

// startReplica builds replica i of serve, listening for agents at urls[i]
// and naming the others as its peers.
func startReplica(t *testing.T, ca *testpki.CA, kubePort int, urls []string, i int, stdout io.Writer, reg *prometheus.Registry,
	overrides ...string) *server.Service {
	cert, key := ca.Serving(t, "peregrine")
	u, err := url.Parse(urls[i])
	if err != nil {
		t.Fatal(err)
	}
	peers := slices.Delete(slices.Clone(urls), i, i+1)
	cfg, err := config.Load("", append([]string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"admission.latency_budget=2s", "k8s_audit.cert_file=" + cert, "k8s_audit.key_file=" + key,
		"k8s_audit.client_ca_file=" + ca.CertPEM, "rule_matching=all", "rules_files=[../policies/peregrine_rules.yaml]", storePath(t),
		"agents.enabled=true", "agents.listen_port=" + u.Port(), "agents.cert_file=" + cert, "agents.key_file=" + key,
		"agents.client_ca_file=" + ca.CertPEM, "agents.allowed_client_names=[peregrine-agent]",
		"agents.peers=[" + strings.Join(peers, ",") + "]",
		"kubernetes.kubeconfig=" + kubetest.Kubeconfig(t, ca, kubePort, kubetest.AdminToken)}, overrides...))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := server.New(context.Background(), server.Options{Config: cfg, Hostname: "control-plane-" + strconv.Itoa(i),
		Stdout: stdout, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	return svc
}

// running runs run until stop or the end of the test, and checks how it
// returned.
func running(t testing.TB, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// allowExec lets the groups devs (alice) and ops (bob) exec into pods.
func (c *cluster) allowExec(t testing.TB) {
	role := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": map[string]any{"name": "exec"},
		"rules": []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"pods", "pods/exec"}, "verbs": []string{"get", "create"}}}}
	c.kube.MustDo(t, kubetest.AdminToken, http.MethodPost, "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles", role, 201)
	binding := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "exec"},
		"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "exec"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"},
			map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "ops"}}}
	c.kube.MustDo(t, kubetest.AdminToken, http.MethodPost, "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings", binding, 201)
}

// node registers node-1 with a kubelet nobody listens on: the apiserver
// admits an exec, then fails to reach the kubelet.
func (c *cluster) node(t testing.TB) {
	node := map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": "node-1"}}
	c.kube.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/nodes", node, 201)
	status := map[string]any{"status": map[string]any{
		"addresses":       []any{map[string]any{"type": "InternalIP", "address": "127.0.0.1"}},
		"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]any{"Port": kubetest.FreePort(t)}}}}
	c.kube.MustDo(t, kubetest.AdminToken, http.MethodPatch, "/api/v1/nodes/node-1/status", status, 200)
}

// pod makes a pod on node-1 whose container app runs in a fake container
// (a cgroup a containerd node would make, a pid namespace with its init),
// and records that container's id in the pod's status, as the kubelet
// would. It returns the cgroup directory and the init's host pid.
func (c *cluster) pod(t testing.TB, name string) (cgroup string, initPid int) {
	spec := map[string]any{"nodeName": "node-1", "containers": []any{map[string]any{"name": "app", "image": "busybox:1.36",
		"resources": map[string]any{"limits": map[string]any{"memory": "64Mi"}}}}}
	body := c.kube.MustDo(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods", kubetest.Obj("Pod", name, spec), 201)
	var created struct {
		Metadata struct{ UID string } `json:"metadata"`
	}
	json.Unmarshal(body, &created)
	cgroup, id := testenv.FakeContainer(t, created.Metadata.UID)
	status := map[string]any{"status": map[string]any{"phase": "Running", "containerStatuses": []any{map[string]any{
		"name": "app", "ready": true, "restartCount": 0, "image": "busybox:1.36", "imageID": "", "containerID": "containerd://" + id,
		"state": map[string]any{"running": map[string]any{}}}}}}
	c.kube.MustDo(t, kubetest.AdminToken, http.MethodPatch, "/api/v1/namespaces/shop/pods/"+name+"/status", status, 200)
	// The container's init: the first process of its own pid namespace.
	init := exec.Command("sh", "-c", "echo $$ > "+cgroup+"/cgroup.procs && exec unshare --fork --pid --mount-proc sleep 120")
	if err := init.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { init.Process.Kill(); init.Wait() })
	return cgroup, waitForProcess(t, cgroup, "sleep")
}

// waitForProcess returns the host pid of the process named comm in cgroup.
func waitForProcess(t testing.TB, cgroup, comm string) int {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		procs, _ := os.ReadFile(filepath.Join(cgroup, "cgroup.procs"))
		for _, f := range strings.Fields(string(procs)) {
			if b, _ := os.ReadFile("/proc/" + f + "/comm"); strings.TrimSpace(string(b)) == comm {
				pid, _ := strconv.Atoi(f)
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s in %s", comm, cgroup)
	return 0
}

// exec asks the apiserver, as the user of token, to run command in pod's
// container app, until the session is routed (the pod watch may lag the
// status update; without a webhook, the audit event routes it, a batch
// later). The kubelet is unreachable: the request itself fails.
func (c *cluster) exec(t testing.TB, token, pod string, command ...string) {
	q := url.Values{"container": {"app"}, "stdout": {"true"}, "command": command}
	deadline := time.Now().Add(10 * time.Second)
	for want := c.counter(c.announcer, "routed") + 1; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, body, err := c.kube.Do(token, http.MethodPost, "/api/v1/namespaces/shop/pods/"+pod+"/exec?"+q.Encode(), nil)
		if code == 403 || err != nil {
			t.Fatalf("exec refused: %d %s %v", code, body, err)
		}
		if c.counter(c.announcer, "routed") >= want {
			return
		}
	}
	t.Fatal("the exec was never routed to the agent")
}

func (c *cluster) counter(source, outcome string) float64 {
	mfs, _ := c.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "peregrine_exec_sessions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["source"] == source && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// runtimeExec starts command in the fake container as a runtime does for
// an exec: a process from outside joins the container's cgroup and
// namespaces, then execs the command.
func runtimeExec(cgroup string, initPid int, command ...string) *exec.Cmd {
	args := append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec nsenter -t "$1" -p -m -- "${@:2}"`,
		cgroup, strconv.Itoa(initPid)}, command...)
	return exec.Command("bash", args...)
}

func waitAlert(t testing.TB, out *testenv.Buffer, substrings ...string) string {
	t.Helper()
	return testenv.WaitLine(t, out, 20*time.Second, substrings...)
}

// TestExecSessionEndToEnd: alice's kubectl exec, admitted by the real
// apiserver, announced to the agent; the shell the runtime then starts in
// the (fake) container raises alerts that name alice, the pod, the
// namespace, and, once the audit event arrives, the audit id. In one
// process (peregrine run), with the service and the agent apart, and
// without a webhook (the audit event announces the session, late).
func TestExecSessionEndToEnd(t *testing.T) {
	t.Run("run", func(t *testing.T) { execSessionEndToEnd(t, startCluster(t)) })
	t.Run("serve+agent", func(t *testing.T) { execSessionEndToEnd(t, startStreamCluster(t)) })
	t.Run("two replicas", func(t *testing.T) { execSessionEndToEnd(t, startReplicas(t, 2)) })
	t.Run("audit only", func(t *testing.T) {
		execSessionEndToEnd(t, startClusterWith(t, false, nil, "../policies/peregrine_rules.yaml", "testdata/session_rules.yaml"))
	})
}

// TestRunLeavesNoGoroutines: peregrine run, after an exec session from
// admission to attributed alert, leaves no goroutine behind once its
// context ends (and serve + agent neither).
func TestRunLeavesNoGoroutines(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(*testing.T) *cluster
	}{{"run", func(t *testing.T) *cluster { return startCluster(t) }}, {"serve+agent", startStreamCluster}} {
		t.Run(tt.name, func(t *testing.T) {
			check := testenv.LeakCheck(t)
			c := tt.start(t)
			execSessionEndToEnd(t, c)
			c.stop()
			check()
		})
	}
}

func execSessionEndToEnd(t *testing.T, c *cluster) {
	cgroup, init := c.pod(t, "web")
	cmd := []string{"sh", "-c", "cat /etc/shadow > /dev/null; id"}
	c.exec(t, kubetest.AliceToken, "web", cmd...)
	if out, err := runtimeExec(cgroup, init, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("runtime exec: %v %s", err, out)
	}
	line := waitAlert(t, c.stdout, `"rule":"Exec session process"`, `"k8s.exec.user":"alice"`, `"proc.name":"id"`)
	for _, want := range []string{`"k8s.pod.name":"web"`, `"k8s.ns.name":"shop"`, `"container.name":"app"`,
		`"k8s.exec.command":"sh -c cat /etc/shadow > /dev/null; id"`, `"k8s.exec.groups":"(devs,system:authenticated)"`} {
		if !strings.Contains(line, want) {
			t.Errorf("alert lacks %s: %s", want, line)
		}
	}
	var alert struct {
		Fields map[string]any `json:"output_fields"`
	}
	json.Unmarshal([]byte(line), &alert)
	if id, _ := alert.Fields["k8s.exec.auditid"].(string); len(id) < 8 {
		t.Errorf("alert without the audit id: %s", line)
	}
	// Our default rules say who started the shell.
	waitAlert(t, c.stdout, `"rule":"Shell spawned in a container"`, `"k8s.exec.user":"alice"`)
}

// TestExecSessionsTwoUsers: alice and bob run the same command in two
// containers at once; each process is attributed to its own user.
func TestExecSessionsTwoUsers(t *testing.T) {
	t.Run("run", func(t *testing.T) { twoUsers(t, startCluster(t)) })
	t.Run("serve+agent", func(t *testing.T) { twoUsers(t, startStreamCluster(t)) })
}

func twoUsers(t *testing.T, c *cluster) {
	webCg, webInit := c.pod(t, "web")
	dbCg, dbInit := c.pod(t, "db")
	cmd := []string{"sh", "-c", "id; sleep 0.2"}
	c.exec(t, kubetest.AliceToken, "web", cmd...)
	c.exec(t, kubetest.BobToken, "db", cmd...)
	web, db := runtimeExec(webCg, webInit, cmd...), runtimeExec(dbCg, dbInit, cmd...)
	for _, r := range []*exec.Cmd{web, db} {
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*exec.Cmd{web, db} {
		if err := r.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	waitAlert(t, c.stdout, `"rule":"Exec session process"`, `"k8s.exec.user":"alice"`, `"k8s.pod.name":"web"`, `"proc.name":"id"`)
	waitAlert(t, c.stdout, `"rule":"Exec session process"`, `"k8s.exec.user":"bob"`, `"k8s.pod.name":"db"`, `"proc.name":"id"`)
	// Alerts still held for a session would come later: stopping releases
	// every one, and only then is nothing misattributed.
	c.stop()
	for _, line := range strings.Split(c.stdout.String(), "\n") {
		if strings.Contains(line, `"k8s.exec.user":"alice"`) && strings.Contains(line, `"k8s.pod.name":"db"`) ||
			strings.Contains(line, `"k8s.exec.user":"bob"`) && strings.Contains(line, `"k8s.pod.name":"web"`) {
			t.Errorf("misattributed: %s", line)
		}
	}
}
