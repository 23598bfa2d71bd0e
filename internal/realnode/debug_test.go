package realnode

import (
	"strings"
	"testing"
	"time"
)

// checkDebug: alice, allowed to add debug containers, runs kubectl debug
// -i into the app pod; the read of /etc/shadow her debug container makes
// carries her as a debug session, and the app container's own reads, which
// go on every 2 s meanwhile, carry no one.
func (c *cluster) checkDebug(t *testing.T) {
	t.Helper()
	c.mustKubectl(t, "-n", "shop", "create", "role", "debug", "--verb=get,list", "--resource=pods")
	c.mustKubectl(t, "-n", "shop", "create", "role", "debug-ephemeral", "--verb=get,patch,update", "--resource=pods/ephemeralcontainers")
	c.mustKubectl(t, "-n", "shop", "create", "role", "debug-attach", "--verb=create,get", "--resource=pods/attach")
	for _, role := range []string{"debug", "debug-ephemeral", "debug-attach"} {
		c.mustKubectl(t, "-n", "shop", "create", "rolebinding", role, "--role="+role, "--user=alice")
	}
	started := time.Now()
	// The read waits for the session to reach the agent: the pod watch
	// learns the container's id only once the kubelet has started it.
	out, err := c.kubectl("alice", "-n", "shop", "debug", "-i", "app", "--image="+c.env["REALNODE_BUSYBOX_IMAGE"],
		"--image-pull-policy=Never", "--target=app", "--container=debugger", "--", "sh", "-c", "sleep 4; cat /etc/shadow >/dev/null; sleep 1")
	if err != nil {
		t.Fatalf("alice's kubectl debug: %v\n%s", err, out)
	}
	cid := strings.TrimPrefix(c.mustKubectl(t, "-n", "shop", "get", "pod", "app", "-o",
		"jsonpath={.status.ephemeralContainerStatuses[0].containerID}"), "containerd://")
	read := alertFields(t, c.waitLog(t, 30*time.Second, `"rule":"E2E shadow read"`, `"k8s.exec.kind":"debug"`))
	want := map[string]any{"k8s.exec.user": "alice", "k8s.exec.command": "sh -c sleep 4; cat /etc/shadow >/dev/null; sleep 1",
		"k8s.pod.name": "app", "container.full_id": cid}
	for k, v := range want {
		if read[k] != v {
			t.Errorf("debug read: %s = %v, want %v", k, read[k], v)
		}
	}
	time.Sleep(6 * time.Second) // past exec_sessions.wait, so that held alerts are out
	for _, l := range strings.Split(c.serviceLogs(-1), "\n") {
		if !strings.Contains(l, `"rule":"E2E shadow read"`) || !strings.Contains(l, `"k8s.exec.kind":"debug"`) {
			continue
		}
		if f := alertFields(t, l); f["container.full_id"] != cid {
			t.Errorf("a read of another container attributed to the debug session: %s", l)
		}
	}
	t.Logf("kubectl debug attributed (%s)", time.Since(started).Round(100*time.Millisecond))
}
