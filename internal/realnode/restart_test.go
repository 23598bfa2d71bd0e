package realnode

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// collector receives the service's alerts over its HTTP output, so that
// they outlive the service's pods.
type collector struct {
	mu     sync.Mutex
	alerts []map[string]any // each alert's output_fields, with "rule"
	url    string
}

func startCollector(t *testing.T, ip string) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{url: "http://" + ln.Addr().String() + "/"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			Rule         string         `json:"rule"`
			OutputFields map[string]any `json:"output_fields"`
		}
		if json.NewDecoder(r.Body).Decode(&a) == nil && strings.HasPrefix(a.Rule, "E2E") {
			a.OutputFields["rule"] = a.Rule
			c.mu.Lock()
			c.alerts = append(c.alerts, a.OutputFields)
			c.mu.Unlock()
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

// of returns the values of field in the alerts of rule.
func (c *collector) of(rule, field string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.alerts {
		if a["rule"] == rule {
			out = append(out, fmt.Sprint(a[field]))
		}
	}
	return out
}

// checkRestart: kubectl rollout restart of the service while audit events
// and syscall alerts flow; every audit event the apiserver sent is
// evaluated exactly once, and no syscall alert is lost (the agent resends
// what was not acknowledged; a resent batch may come twice).
func (c *cluster) checkRestart(t *testing.T, col *collector, auditLog string) {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(c.restConfig(t))
	ctx := context.Background()
	c.mustKubectl(t, "create", "namespace", "load")
	c.mustKubectl(t, "-n", "shop", "run", "seq", "--image="+c.env["REALNODE_BUSYBOX_IMAGE"], "--image-pull-policy=Never",
		"--command", "--", "sh", "-c", `i=0; while :; do i=$((i+1)); cat /etc/shadow n$i >/dev/null 2>&1; sleep 0.2; done`)
	c.mustKubectl(t, "-n", "shop", "wait", "pod/seq", "--for=condition=Ready", "--timeout=120s")
	done := make(chan int)
	go func() { // up to 40 configmaps a second for 20 s
		n := 0
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.Itoa(n)}}
			if _, err := client.CoreV1().ConfigMaps("load").Create(ctx, cm, metav1.CreateOptions{}); err == nil {
				n++
			}
		}
		done <- n
	}()
	time.Sleep(3 * time.Second)
	c.mustKubectl(t, "-n", "peregrine", "rollout", "restart", "deployment/peregrine-server")
	c.mustKubectl(t, "-n", "peregrine", "rollout", "status", "deployment/peregrine-server", "--timeout=180s")
	created := <-done
	sent := auditIDs(t, auditLog) // what the apiserver sent (a create can succeed and still fail at the client)
	if len(sent) < 50 || len(sent) < created {
		t.Fatalf("the audit log has %d configmap creates, the test made %d", len(sent), created)
	}
	var got []string
	for deadline := time.Now().Add(100 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if got = col.of("E2E configmap created", "ka.auditid"); len(got) >= len(sent) {
			break
		}
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	missing, twice := 0, 0
	for id := range sent {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	t.Logf("restart under load: %d audit events sent, %d evaluated, %d missing, %d more than once", len(sent), len(got), missing, twice)
	if missing > 0 || twice > 0 || len(got) != len(sent) {
		t.Errorf("audit events across the restart: %d sent, %d alerts, %d missing, %d evaluated more than once",
			len(sent), len(got), missing, twice)
	}
	checkNumbered(t, col)
}

// auditIDs reads the audit IDs of the load namespace's configmap creates
// from the apiserver's own audit log (the same policy as the webhook).
func auditIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			AuditID, Stage, Verb string
			ObjectRef            struct{ Resource, Namespace string }
			ResponseStatus       struct{ Code int }
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Stage == "ResponseComplete" && e.Verb == "create" &&
			e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Namespace == "load" && e.ResponseStatus.Code == 201 {
			ids[e.AuditID] = true
		}
	}
	return ids
}

var numbered = regexp.MustCompile(`/etc/shadow n(\d+)$`)

// checkNumbered: the seq pod's reads, numbered, reached the output with no
// gap between the first and the last one seen.
func checkNumbered(t *testing.T, col *collector) {
	t.Helper()
	seen := map[int]int{}
	first, last := -1, -1
	for _, cmd := range col.of("E2E numbered read", "proc.cmdline") {
		m := numbered.FindStringSubmatch(cmd)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		seen[n]++
		if first < 0 || n < first {
			first = n
		}
		last = max(last, n)
	}
	var gaps []int
	dup := 0
	for n := first; n <= last && first >= 0; n++ {
		if seen[n] == 0 {
			gaps = append(gaps, n)
		}
		dup += max(0, seen[n]-1)
	}
	t.Logf("numbered reads across the restart: %d to %d, %d missing, %d resent twice", first, last, len(gaps), dup)
	if first < 0 || last-first < 10 || len(gaps) > 0 { // ~5 reads a second, fewer on a busy machine
		t.Errorf("numbered reads %d..%d, missing %v", first, last, gaps)
	}
}
