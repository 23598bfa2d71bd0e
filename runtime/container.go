package runtime

import (
	"bufio"
	"os"
	"regexp"
	"strings"

	"github.com/peregrine-sec/peregrine/internal/imageref"
	"golang.org/x/sys/unix"
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

// containerFromCgroup returns the container a cgroup v2 path belongs to,
// or nil for the host.
func containerFromCgroup(path string) *Container {
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

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted, from
// mountinfo: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts.
// "" when there is none.
func cgroup2Mount(procfs string) string {
	f, err := os.Open(procfs + "/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				return fields[4]
			}
		}
	}
	return ""
}

// startTime is when the container's cgroup was made (container.start_ts):
// the runtime makes it as it starts the container, and cgroupfs keeps the
// directory's change time.
func startTime(mount, cgroup string) int64 {
	var st unix.Stat_t
	if mount == "" || unix.Stat(mount+cgroup, &st) != nil {
		return 0
	}
	return st.Ctim.Nano()
}

// PodInfo is what the cluster says of a container: the service's pod
// watch, by the container's runtime id. Agents receive it as it is, JSON.
type PodInfo struct {
	ID        string            `json:"id"` // the runtime's id, without the runtime:// prefix
	Name      string            `json:"name"`
	Image     string            `json:"image"`
	Namespace string            `json:"namespace"`
	Pod       string            `json:"pod"`
	PodUID    string            `json:"podUID"`
	PodIP     string            `json:"podIP,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// Pods looks up containers in the cluster's view.
type Pods interface {
	Lookup(containerID string) (PodInfo, bool)
}

// describe fills c from the cluster's view, once it has the container.
func describe(c *Container, pods Pods) {
	if c == nil || c.described || pods == nil {
		return
	}
	info, ok := pods.Lookup(c.FullID)
	if !ok {
		return
	}
	c.Name, c.Image, c.PodName, c.Namespace, c.PodUID = info.Name, info.Image, info.Pod, info.Namespace, info.PodUID
	c.PodLabels, c.PodIP = info.Labels, info.PodIP
	ref := imageref.Parse(info.Image)
	c.ImageRepo, c.ImageTag = ref.Repository, ref.Tag
	c.described = true
}
