package runtime

import (
	"bufio"
	"os"
	"regexp"
	"strings"
)

// containerPatterns recognise a container's cgroup directory, by runtime:
// systemd-style scopes (containerd, CRI-O, Docker, Podman) and cgroupfs
// paths (/kubepods/.../<id>, /docker/<id>).
var containerPatterns = []struct {
	re      *regexp.Regexp
	runtime string
}{
	{regexp.MustCompile(`cri-containerd-([0-9a-f]{64})\.scope$`), "containerd"},
	{regexp.MustCompile(`crio-([0-9a-f]{64})\.scope$`), "cri-o"},
	{regexp.MustCompile(`docker-([0-9a-f]{64})\.scope$`), "docker"},
	{regexp.MustCompile(`libpod-([0-9a-f]{64})\.scope$`), "podman"},
	{regexp.MustCompile(`/kubepods[^ ]*/([0-9a-f]{64})$`), "containerd"},
	{regexp.MustCompile(`/docker/([0-9a-f]{64})$`), "docker"},
}

// ContainerFromCgroup returns the container a cgroup v2 path belongs to,
// or nil for the host.
func ContainerFromCgroup(path string) *Container {
	for _, p := range containerPatterns {
		if m := p.re.FindStringSubmatch(path); m != nil {
			return &Container{ID: m[1][:12], FullID: m[1], Type: p.runtime}
		}
	}
	return nil
}

// cgroupPath reads the unified (v2) cgroup of a process: the "0::" line of
// /proc/PID/cgroup, which hybrid hosts have too.
func cgroupPath(procfs, pid string) string {
	f, err := os.Open(procfs + "/" + pid + "/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p
		}
	}
	return ""
}
