package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// binDir holds the command built for these tests, for as long as they run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peregrine-cmd-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds the peregrine command, once.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "peregrine")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort is a free loopback port, as a flag value.
func freePort(t *testing.T) string { return strconv.Itoa(kubetest.FreePort(t)) }

// running starts the built binary with args; it is killed when the test
// ends.
func running(t *testing.T, args ...string) (*exec.Cmd, *testenv.Buffer) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stderr
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// hangupReopens: with alerts in path, log rotation renames it and sends
// SIGHUP; the process lives on and its next alerts (raised by trigger)
// are in a new file at path.
func hangupReopens(t *testing.T, cmd *exec.Cmd, path string, trigger func()) {
	t.Helper()
	trigger()
	waitFor(t, "an alert in the file", func() bool { return lines(path) > 0 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the file reopened", func() bool { _, err := os.Stat(path); return err == nil })
	trigger()
	waitFor(t, "an alert in the new file", func() bool { return lines(path) > 0 })
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the process died of SIGHUP: %v", err)
	}
}

// fileOutput is the options that send alerts to path only.
func fileOutput(path string) []string {
	return []string{"-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true", "-o", "file_output.filename=" + path,
		"-o", "json_output=true", "-o", "store.path=" + filepath.Join(filepath.Dir(path), "peregrine.db")}
}

// TestHangupServe: serve reopens its file output on SIGHUP.
func TestHangupServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	audit := freePort(t)
	args := append([]string{"serve", "-o", "k8s_audit.listen_port=" + audit, "-o", "webserver.listen_port=" + freePort(t),
		"-o", "admission.enabled=false"}, fileOutput(path)...)
	cmd, stderr := running(t, args...)
	waitFor(t, "serve listening", func() bool { return strings.Contains(stderr.String(), `"msg":"serving"`) })
	body, err := os.ReadFile("testdata/exec_event.json")
	if err != nil {
		t.Fatal(err)
	}
	hangupReopens(t, cmd, path, func() {
		resp, err := http.Post("http://127.0.0.1:"+audit+"/k8s-audit", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("audit post: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

// TestHangupAgent: the agent reopens its file output on SIGHUP (it used
// to die of it).
func TestHangupAgent(t *testing.T) {
	testenv.RequireKernel(t)
	path := filepath.Join(t.TempDir(), "alerts.json")
	cmd, stderr := running(t, append([]string{"agent"}, fileOutput(path)...)...)
	waitFor(t, "the agent capturing", func() bool { return strings.Contains(stderr.String(), `"msg":"agent started"`) })
	hangupReopens(t, cmd, path, func() { exec.Command("cat", "/etc/shadow").Run() })
}

// TestHangupRun: run reopens the file output it shares on SIGHUP.
func TestHangupRun(t *testing.T) {
	testenv.RequireKernel(t)
	path := filepath.Join(t.TempDir(), "alerts.json")
	args := append([]string{"run", "-o", "k8s_audit.listen_port=" + freePort(t), "-o", "webserver.listen_port=" + freePort(t),
		"-o", "admission.listen_port=" + freePort(t)}, fileOutput(path)...)
	cmd, stderr := running(t, args...)
	waitFor(t, "run capturing", func() bool { return strings.Contains(stderr.String(), `"msg":"agent started"`) })
	hangupReopens(t, cmd, path, func() { exec.Command("cat", "/etc/shadow").Run() })
}
