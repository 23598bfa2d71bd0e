package agent

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// fakeContainer makes the cgroup of a containerd container.
func fakeContainer(t *testing.T) (string, string) { return testenv.FakeContainer(t, "0a1b") }

// copyAs copies a binary under another name, so that its process has
// that comm (the runtime that starts a container's entrypoint).
func copyAs(t *testing.T, src, name string) string {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(out, in)
	out.Close()
	return dst
}

// TestTerminalShellInContainer: an interactive shell with a terminal,
// started by the runtime inside a (fake) container — cgroup of a
// containerd container, its own pid and mount namespaces — fires Falco's
// upstream "Terminal shell in container" with the container id.
func TestTerminalShellInContainer(t *testing.T) {
	out := startAgent(t, filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml"))
	dir, id := fakeContainer(t)
	runc := copyAs(t, "/usr/bin/unshare", "runc")
	// sh joins the container's cgroup; script gives the shell a terminal;
	// "runc" (unshare) makes the namespaces and starts the shell.
	cmd := exec.Command("sh", "-c", "echo $$ > "+dir+"/cgroup.procs && exec script -qec '"+runc+
		" --fork --pid --mount-proc bash -ic true' /dev/null")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fake container: %v %s", err, b)
	}
	line := waitAlert(t, out, `"rule":"Terminal shell in container"`, `"container.id":"`+id[:12]+`"`)
	if !strings.Contains(line, `"proc.name":"bash"`) {
		t.Errorf("alert %s", line)
	}
}

// TestDropAndExecute: a binary written into a container's overlay upper
// layer and run there fires Falco's upstream "Drop and execute new binary
// in container"; a binary run from memory fires "Fileless execution via
// memfd_create".
func TestDropAndExecute(t *testing.T) {
	out := startAgent(t, filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml"))
	dir, id := fakeContainer(t)
	layers := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(layers, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runc := copyAs(t, "/usr/bin/unshare", "runc")
	// In its own mount namespace the "container" mounts its root overlay,
	// drops a binary into it (the copy lands in the upper layer) and runs it.
	script := "mount -t overlay overlay -o lowerdir=" + layers + "/lower,upperdir=" + layers + "/upper,workdir=" +
		layers + "/work " + layers + "/merged && cp /bin/true " + layers + "/merged/dropped && " + layers + "/merged/dropped"
	cmd := exec.Command("sh", "-c", "echo $$ > "+dir+"/cgroup.procs && exec "+runc+" --fork --pid --mount sh -c '"+script+"'")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fake container: %v %s", err, b)
	}
	line := waitAlert(t, out, `"rule":"Drop and execute new binary in container"`, `"container.id":"`+id[:12]+`"`,
		`"proc.exe":"`+layers+`/merged/dropped"`, `"proc.exepath":"`+layers+`/merged/dropped"`)
	if strings.Contains(line, `"container.start_ts":null`) || strings.Contains(line, `"proc.exe_ino.ctime":null`) {
		t.Errorf("container start or executable times missing: %s", line)
	}

	bin := filepath.Join(t.TempDir(), "memfdexec")
	if b, err := exec.Command("go", "build", "-o", bin, "./testdata/memfdexec").CombinedOutput(); err != nil {
		t.Fatalf("build memfdexec: %v %s", err, b)
	}
	run(t, bin)
	waitAlert(t, out, `"rule":"Fileless execution via memfd_create"`, `"proc.exepath":"memfd:payload`)
}
