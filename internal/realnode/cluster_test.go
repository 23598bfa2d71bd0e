package realnode

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// cluster is a running realnode cluster.
type cluster struct {
	script string
	env    map[string]string // what realnode.sh env exports
}

// startCluster builds what is missing (cached) and brings the cluster up
// until the test ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	testenv.RequireKernel(t) // root, as the kubelet and the agent need
	_, self, _, _ := runtime.Caller(0)
	c := &cluster{script: filepath.Join(filepath.Dir(self), "realnode.sh")}
	c.run(t, 30*time.Minute, nil, "build")
	c.run(t, 5*time.Minute, nil, "down")            // whatever an earlier run left
	if os.Getenv("PEREGRINE_REALNODE_KEEP") == "" { // set it to look at a failed run's cluster
		t.Cleanup(func() { c.run(t, 5*time.Minute, nil, "down") })
	}
	c.run(t, 5*time.Minute, nil, "up")
	c.env = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(c.run(t, time.Minute, nil, "env")))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			c.env[k] = strings.Trim(v, `'"`)
		}
	}
	return c
}

// run runs realnode.sh with args and extra environment; it fails the test
// with the script's output when it fails.
func (c *cluster) run(t *testing.T, timeout time.Duration, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{c.script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := runTimeout(cmd, timeout)
	if err != nil {
		t.Fatalf("realnode.sh %s: %v\n%s", strings.Join(args, " "), err, tail(out, 4000))
	}
	return string(out)
}

// kubectl runs kubectl with a kubeconfig of the cluster (admin unless
// as names another: alice, mallory).
func (c *cluster) kubectl(as string, args ...string) (string, error) {
	kc := c.env["KUBECONFIG"]
	if as != "admin" {
		kc = filepath.Join(c.env["REALNODE_DIR"], "kubeconfig-"+as)
	}
	out, err := runTimeout(exec.Command("kubectl", append([]string{"--kubeconfig", kc}, args...)...), 5*time.Minute)
	return string(out), err
}

func (c *cluster) mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.kubectl("admin", args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, tail([]byte(out), 4000))
	}
	return out
}

func runTimeout(cmd *exec.Cmd, timeout time.Duration) ([]byte, error) {
	cmd.WaitDelay = 5 * time.Second
	done := time.AfterFunc(timeout, func() {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	defer done.Stop()
	return cmd.CombinedOutput()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
