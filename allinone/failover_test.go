package allinone

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// TestReplicaKilled: three `peregrine serve` processes behind a balancer
// (what a Service does), two `peregrine agent` processes, the real
// kube-apiserver. In the middle of a burst of audit events and syscall
// alerts, the replica that carries the audit traffic and one agent's
// alerts is killed with SIGKILL. Every audit event is still evaluated
// (counted by audit ID), every alert an agent raised reaches a replica's
// output (counted by id), and an exec admitted during the outage by a
// surviving replica is attributed. Replicas send alerts to an HTTP
// output (a collector here); the killed one's is slow (10 ms an alert),
// so that it dies with alerts received but not yet delivered.
func TestReplicaKilled(t *testing.T) {
	testenv.RequireKernel(t)
	kubetest.BinDir(t)
	f := startFleet(t)
	cgroup, initPid := f.pod(t, "web")

	reads := f.readBurst(t, 300)
	var auditIDs []string
	for i := range 300 {
		if i == 150 {
			f.kill(t, 0)
		}
		cm := kubetest.Obj("ConfigMap", "cm-"+strconv.Itoa(i), nil)
		h := f.kube.MustDoHeaders(t, kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/burst/configmaps", cm, 201)
		auditIDs = append(auditIDs, h.Get("Audit-Id"))
		time.Sleep(10 * time.Millisecond)
	}

	// During the outage: alice's exec, admitted by a surviving replica,
	// announced to node-1's agent, whose primary was the dead one.
	cmd := []string{"sh", "-c", "cat /etc/shadow > /dev/null; id"}
	f.execRouted(t, kubetest.AliceToken, "web", cmd...)
	if out, err := runtimeExec(cgroup, initPid, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("runtime exec: %v %s", err, out)
	}
	if err := reads.Wait(); err != nil {
		t.Fatalf("the reads: %v", err)
	}
	f.waitAll(t, auditIDs)
}

// fleet is the replicas, the agents and the cluster they watch.
type fleet struct {
	*cluster
	dir      string
	replicas []*process
	agents   []*process
}

// startFleet starts 3 replicas that name each other in agents.peers, a
// balancer in front of their audit and admission listeners, the
// apiserver, and agents for node-1 and node-2, each given another replica.
func startFleet(t *testing.T) *fleet {
	bin := buildPeregrine(t)
	ca := testpki.NewCA(t)
	kubePort := kubetest.FreePort(t)
	f := &fleet{cluster: &cluster{announcer: "admission"}, dir: t.TempDir()}
	ports := listenersOf(t, 3)
	auditLB, admissionLB := balance(t, ports.audit), balance(t, ports.admission)
	kubeconfig := kubetest.Kubeconfig(t, ca, kubePort, kubetest.AdminToken)
	for i := range ports.agents {
		delay := time.Duration(0)
		if i == 0 { // the one killed
			delay = 10 * time.Millisecond
		}
		sink := collect(t, delay)
		r := startServe(t, bin, ca, kubeconfig, ports, i, "rule_matching=all",
			"rules_files=[../policies/peregrine_rules.yaml,testdata/failover_rules.yaml]",
			"stdout_output.enabled=false", "http_output.enabled=true", "http_output.url="+sink.url)
		r.sink = sink
		f.replicas = append(f.replicas, r)
	}
	urls := ports.agentURLs()
	agentCert, agentKey := ca.Client(t, "peregrine-agent", "")
	for i, node := range []string{"node-1", "node-2"} {
		a := &process{out: filepath.Join(f.dir, node+".jsonl")}
		a.cmd, a.stderr = spawn(t, bin, "agent", "-o", "hostname="+node, "-o", "server.node_name="+node,
			"-o", "server.url="+urls[i], "-o", "server.ca_file="+ca.CertPEM,
			"-o", "server.cert_file="+agentCert, "-o", "server.key_file="+agentKey, "-o", "webserver.listen_port=0",
			"-o", "rule_matching=all", "-o", "rules_files=[testdata/session_rules.yaml,testdata/failover_rules.yaml]",
			"-o", "exec_sessions.wait=10s", "-o", "stdout_output.enabled=false",
			"-o", "file_output.enabled=true", "-o", "file_output.filename="+a.out)
		f.agents = append(f.agents, a)
	}
	f.waitLinked(t, 2)
	// The apiserver stops first (its cleanup, registered last, runs first).
	f.kube = kubetest.Start(t, kubetest.Options{CA: ca, AuditURL: "https://127.0.0.1:" + strconv.Itoa(auditLB) + "/k8s-audit", Port: kubePort})
	f.kube.Namespaces(t, "shop", "burst")
	caPEM, err := os.ReadFile(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	f.kube.RegisterWebhook(t, "https://127.0.0.1:"+strconv.Itoa(admissionLB)+"/validate", caPEM, "shop")
	f.allowExec(t)
	f.node(t)
	return f
}

// kill kills replica i with SIGKILL: nothing it holds in memory survives.
func (f *fleet) kill(t *testing.T, i int) {
	r := f.replicas[i]
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.dead = true
}

// waitLinked waits until every live replica has n agents connected.
func (f *fleet) waitLinked(t *testing.T, n int) { waitLinked(t, f.replicas, n, 30*time.Second) }

// routed counts the exec sessions the live replicas routed to an agent.
func (f *fleet) routed() float64 {
	n := 0.0
	for _, r := range f.replicas {
		if !r.dead {
			n += r.metric("peregrine_exec_sessions_total", `outcome="routed"`)
		}
	}
	return n
}

// execRouted asks the apiserver to exec command in pod until a live
// replica has routed the session (the first call after the kill may meet
// a connection the balancer held to the dead replica).
func (f *fleet) execRouted(t *testing.T, token, pod string, command ...string) {
	q := url.Values{"container": {"app"}, "stdout": {"true"}, "command": command}
	want := f.routed() + 1
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, body, err := f.kube.Do(token, http.MethodPost, "/api/v1/namespaces/shop/pods/"+pod+"/exec?"+q.Encode(), nil)
		if code == 403 {
			t.Fatalf("exec refused: %s %v", body, err)
		}
		if f.routed() >= want {
			return
		}
	}
	t.Fatal("the exec was never routed to the agent")
}

// readBurst starts a process that reads n numbered files, one every 20
// ms: each read is an alert on each agent.
func (f *fleet) readBurst(t *testing.T, n int) *exec.Cmd {
	for i := 1; i <= n; i++ {
		if err := os.WriteFile(filepath.Join(f.dir, "peregrine-burst-"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt $1 ]; do i=$((i+1)); cat "$0/peregrine-burst-$i"; sleep 0.02; done`,
		f.dir, strconv.Itoa(n))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// alertLine is what the failover test reads of an alert.
type alertLine struct {
	UUID   string         `json:"uuid"`
	Rule   string         `json:"rule"`
	Fields map[string]any `json:"output_fields"`
}

// readAlerts reads an agent's alert file.
func readAlerts(t *testing.T, path string) []alertLine {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []alertLine
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a alertLine
		if line != "" && json.Unmarshal([]byte(line), &a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// collector receives a replica's HTTP output, taking delay per alert.
type collector struct {
	url    string
	mu     sync.Mutex
	alerts []alertLine
}

func collect(t *testing.T, delay time.Duration) *collector {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alertLine
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(delay)
		c.mu.Lock()
		c.alerts = append(c.alerts, a)
		c.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func (c *collector) received() []alertLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.alerts)
}

// tally is what the replicas wrote, against what was sent.
type tally struct {
	audit      map[string]int // burst audit IDs evaluated, and how often
	alerts     map[string]int // alert ids written, and how often
	fromKilled int            // burst audit alerts the killed replica wrote
	attributed bool           // alice's exec, attributed
	agentIDs   []string       // the burst alerts the agents raised
}

func (f *fleet) tally(t *testing.T) tally {
	s := tally{audit: map[string]int{}, alerts: map[string]int{}}
	for i, r := range f.replicas {
		for _, a := range r.sink.received() {
			s.alerts[a.UUID]++
			switch {
			case a.Rule == "Burst configmap created":
				s.audit[fmt.Sprint(a.Fields["ka.auditid"])]++
				if i == 0 {
					s.fromKilled++
				}
			case a.Rule == "Exec session process" && a.Fields["k8s.exec.user"] == "alice" && a.Fields["proc.name"] == "id":
				s.attributed = true
			}
		}
	}
	for _, ag := range f.agents {
		for _, a := range readAlerts(t, ag.out) {
			if a.Rule == "Burst file read" {
				s.agentIDs = append(s.agentIDs, a.UUID)
			}
		}
	}
	return s
}

// waitAll waits until every audit ID and every agent alert is in a
// replica's output and alice's exec is attributed, then checks and
// reports the counts.
func (f *fleet) waitAll(t *testing.T, auditIDs []string) {
	var s tally
	var lostAudit, lostAlerts []string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		s = f.tally(t)
		lostAudit, lostAlerts = missing(auditIDs, s.audit), missing(s.agentIDs, s.alerts)
		if len(lostAudit) == 0 && len(lostAlerts) == 0 && s.attributed || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("audit: %d events sent, %d evaluated, %d missing, %d evaluated twice; %d by the replica killed",
		len(auditIDs), len(s.audit), len(lostAudit), twice(s.audit), s.fromKilled)
	t.Logf("agent alerts: %d raised, %d missing, %d written twice", len(s.agentIDs), len(lostAlerts), twice(s.alerts))
	if len(lostAudit) > 0 || len(lostAlerts) > 0 {
		t.Errorf("lost: audit IDs %v, alert ids %v", lostAudit, lostAlerts)
	}
	if !s.attributed {
		t.Error("alice's exec during the outage was not attributed")
	}
	if s.fromKilled == 0 || len(s.agentIDs) < 2*300 {
		t.Errorf("the kill proved nothing: the killed replica wrote %d burst audit alerts; the agents raised %d burst alerts",
			s.fromKilled, len(s.agentIDs))
	}
}

func missing(want []string, got map[string]int) []string {
	var out []string
	for _, id := range want {
		if got[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

func twice(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += max(0, c-1)
	}
	return n
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// balance stands for a Service in front of the replicas: each connection
// goes to the next of ports that accepts it, as kube-proxy sends
// connections once a dead pod has left the endpoints. It returns the port
// it listens on.
func balance(t *testing.T, ports []int) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		next  atomic.Uint64
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			start := int(next.Add(1) - 1)
			wg.Go(func() { proxy(c, ports, start, track) })
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// proxy joins c to the first of ports, from start, that accepts.
func proxy(c net.Conn, ports []int, start int, track func(net.Conn)) {
	defer c.Close()
	for i := range ports {
		port := ports[(start+i)%len(ports)]
		up, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			continue
		}
		track(up)
		done := make(chan struct{})
		go func() {
			io.Copy(up, c)
			up.Close()
			close(done)
		}()
		io.Copy(c, up)
		c.Close()
		up.Close()
		<-done
		return
	}
}
