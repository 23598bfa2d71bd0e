package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cgroup2Root finds the cgroup v2 mount (hybrid hosts mount it at
// /sys/fs/cgroup/unified); it skips the test (fails under CI) without one.
func cgroup2Root(t testing.TB) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" {
				return fields[4]
			}
		}
	}
	Unavailable(t, "no cgroup v2 hierarchy")
	return ""
}

// FakeContainer makes the cgroup a containerd node gives a container of
// the pod with podUID (systemd driver: kubepods-pod<uid>.slice/
// cri-containerd-<id>.scope) and returns its directory and the container
// id. A process that writes its pid to the directory's cgroup.procs runs
// "in" the container.
func FakeContainer(t testing.TB, podUID string) (dir, id string) {
	t.Helper()
	root := cgroup2Root(t)
	b := make([]byte, 32)
	rand.Read(b)
	id = hex.EncodeToString(b)
	pod := filepath.Join(root, "kubepods.slice", "kubepods-pod"+strings.ReplaceAll(podUID, "-", "_")+".slice")
	dir = filepath.Join(pod, "cri-containerd-"+id+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(dir)
		os.Remove(pod) // fails while another container of the pod remains: fine
		os.Remove(filepath.Dir(pod))
	})
	return dir, id
}
