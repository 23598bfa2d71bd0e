package main

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peregrine-sec/peregrine/internal/testenv"
)

// openPTY opens a pseudo-terminal: what the process writes to slave, the
// test reads from master.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testenv.Unavailable(t, "no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestTextAlertsOnTerminal: serve's alerts on a terminal are Falco's
// text lines; with -o json_output=true, or into a pipe, JSON.
func TestTextAlertsOnTerminal(t *testing.T) {
	body, err := os.ReadFile("testdata/exec_event.json")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{9}: Notice `)
	for _, tt := range []struct {
		name     string
		terminal bool
		options  []string
		want     *regexp.Regexp
	}{
		{"terminal", true, nil, text},
		{"terminal, json_output set", true, []string{"-o", "json_output=true"}, regexp.MustCompile(`^\{"hostname":`)},
		{"pipe", false, nil, regexp.MustCompile(`^\{"hostname":`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			audit := freePort(t)
			cmd := exec.Command(binary(t), append([]string{"serve", "-o", "k8s_audit.listen_port=" + audit,
				"-o", "webserver.listen_port=" + freePort(t), "-o", "admission.enabled=false",
				"-o", "store.path=" + filepath.Join(t.TempDir(), "peregrine.db")}, tt.options...)...)
			stderr := &testenv.Buffer{}
			cmd.Stderr = stderr
			var out *bufio.Reader
			if tt.terminal {
				master, slave := openPTY(t)
				cmd.Stdout, out = slave, bufio.NewReader(master)
			} else {
				r, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				out = bufio.NewReader(r)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			waitFor(t, "serve listening", func() bool { return strings.Contains(stderr.String(), `"msg":"serving"`) })
			resp, err := http.Post("http://127.0.0.1:"+audit+"/k8s-audit", "application/json", bytes.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("audit post: %v %v", resp, err)
			}
			resp.Body.Close()
			line := make(chan string, 1)
			go func() { l, _ := out.ReadString('\n'); line <- l }()
			select {
			case l := <-line:
				if !tt.want.MatchString(l) {
					t.Errorf("alert line %q, want %s", l, tt.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no alert on stdout")
			}
		})
	}
}
