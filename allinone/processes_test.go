package allinone

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// process is one peregrine command run by a test.
type process struct {
	cmd    *exec.Cmd
	stderr *testenv.Buffer
	out    string     // an agent's alert file
	sink   *collector // where a replica's HTTP output posts
	web    int        // a replica's webserver port
	dead   bool
}

// listeners are the ports of n replicas' listeners, by kind.
type listeners struct{ audit, admission, agents, web []int }

func listenersOf(tb testing.TB, n int) listeners {
	ports := func() []int {
		p := make([]int, n)
		for i := range p {
			p[i] = kubetest.FreePort(tb)
		}
		return p
	}
	return listeners{ports(), ports(), ports(), ports()}
}

// agentURLs are the replicas' agent-stream URLs.
func (l listeners) agentURLs() []string {
	urls := make([]string, len(l.agents))
	for i, p := range l.agents {
		urls[i] = "https://127.0.0.1:" + strconv.Itoa(p) + "/agent/v1/stream"
	}
	return urls
}

// storePath keeps a test's alert history in its temporary directory.
func storePath(tb testing.TB) string {
	return "store.path=" + filepath.Join(tb.TempDir(), "peregrine.db")
}

func buildPeregrine(tb testing.TB) string {
	bin := filepath.Join(tb.TempDir(), "peregrine")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/peregrine").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe starts replica i of `peregrine serve` on ports, every
// listener with a certificate of ca, agents authenticated by certificate
// (peregrine-agent), naming the other replicas in agents.peers, watching
// the cluster of kubeconfig; options are more -o settings.
func startServe(tb testing.TB, bin string, ca *testpki.CA, kubeconfig string, ports listeners, i int, options ...string) *process {
	cert, key := ca.Serving(tb, "peregrine")
	peers := slices.Delete(ports.agentURLs(), i, i+1)
	p := &process{web: ports.web[i]}
	settings := append([]string{"hostname=replica-" + strconv.Itoa(i),
		"k8s_audit.listen_port=" + strconv.Itoa(ports.audit[i]), "k8s_audit.cert_file=" + cert,
		"k8s_audit.key_file=" + key, "k8s_audit.client_ca_file=" + ca.CertPEM,
		"admission.listen_port=" + strconv.Itoa(ports.admission[i]), "admission.cert_file=" + cert,
		"admission.key_file=" + key, "admission.latency_budget=2s", "webserver.listen_port=" + strconv.Itoa(p.web),
		"agents.enabled=true", "agents.listen_port=" + strconv.Itoa(ports.agents[i]),
		"agents.cert_file=" + cert, "agents.key_file=" + key, "agents.client_ca_file=" + ca.CertPEM,
		"agents.allowed_client_names=[peregrine-agent]", "agents.peers=[" + strings.Join(peers, ",") + "]",
		"kubernetes.kubeconfig=" + kubeconfig, storePath(tb)}, options...)
	args := []string{"serve"}
	for _, s := range settings {
		args = append(args, "-o", s)
	}
	p.cmd, p.stderr = spawn(tb, bin, args...)
	return p
}

// spawn starts bin with args until the end of the test.
func spawn(tb testing.TB, bin string, args ...string) (*exec.Cmd, *testenv.Buffer) {
	cmd := exec.Command(bin, args...)
	stderr := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("%s stderr (tail):\n%s", strings.Join(args[:1], " "), tailLines(stderr.String(), 30))
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd, stderr
}

// waitLinked waits until every live replica has n agents connected.
func waitLinked(tb testing.TB, replicas []*process, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, r := range replicas {
		for !r.dead && r.metric("peregrine_agents_connected", "") != float64(n) {
			if time.Now().After(deadline) {
				tb.Fatalf("replica on :%d has %v agents, not %d", r.web, r.metric("peregrine_agents_connected", ""), n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// metric sums the samples of name whose labels contain match; -1 when the
// process does not answer.
func (p *process) metric(name, match string) float64 {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(p.web) + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") || !strings.Contains(line, match) {
			continue
		}
		v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		sum += v
	}
	return sum
}

// usage is a process's resident memory (bytes) and CPU time so far.
func (p *process) usage(tb testing.TB) (rss int64, cpu time.Duration) {
	pid := strconv.Itoa(p.cmd.Process.Pid)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			rss = kb << 10
		}
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command's closing parenthesis; utime and stime are
	// the 14th and 15th of the line, in clock ticks (100 a second here).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return rss, time.Duration(ut+st) * 10 * time.Millisecond
}
