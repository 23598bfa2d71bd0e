package output

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// blocking is a sink that holds every Send until released.
type blocking struct {
	release chan struct{}
	entered atomic.Int64
	got     atomic.Int64
}

func (b *blocking) Name() string { return "blocking" }
func (b *blocking) Send(context.Context, []byte, *Alert) error {
	b.entered.Add(1)
	<-b.release
	b.got.Add(1)
	return nil
}
func (b *blocking) Close() error { return nil }

// TestSlowSinkDropsAndCounts: a stuck sink fills its queue and then drops,
// counted, while another sink keeps receiving everything.
func TestSlowSinkDropsAndCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	slow := &blocking{release: make(chan struct{})}
	var fast testenv.Buffer
	o := New(Format{JSON: true}, []SinkConfig{
		{Sink: slow, MinPriority: rules.Debug, QueueSize: 2},
		{Sink: NewWriter("stdout", &fast), MinPriority: rules.Debug, QueueSize: 100},
	}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Start(ctx); close(done) }()
	o.Publish(testAlert())
	waitFor(t, func() bool { return slow.entered.Load() == 1 })
	for range 9 {
		o.Publish(testAlert())
	}
	waitFor(t, func() bool { return strings.Count(fast.String(), "\n") == 10 })
	// One alert is in the slow sink's Send, two in its queue: seven dropped.
	waitFor(t, func() bool { return testutil.ToFloat64(o.metrics.dropped.WithLabelValues("blocking")) == 7 })
	close(slow.release)
	cancel()
	<-done
	if got := slow.got.Load(); got != 3 {
		t.Errorf("slow sink got %d alerts, want 3", got)
	}
	if got := testutil.ToFloat64(o.metrics.alerts.WithLabelValues("Shell in container", "Warning", "syscall")); got != 10 {
		t.Errorf("peregrine_alerts_total = %v, want 10", got)
	}
}

func TestMinPriority(t *testing.T) {
	var buf testenv.Buffer
	o := New(Format{}, []SinkConfig{{Sink: NewWriter("stdout", &buf), MinPriority: rules.Error}},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Start(ctx); close(done) }()
	warn, crit := testAlert(), testAlert()
	crit.Priority = rules.Critical
	o.Publish(warn)
	o.Publish(crit)
	cancel()
	<-done
	if got := strings.Count(buf.String(), "\n"); got != 1 || !strings.Contains(buf.String(), "Critical") {
		t.Errorf("output %q, want only the critical alert", buf.String())
	}
}

func TestHTTPRetries(t *testing.T) {
	var calls atomic.Int64
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b) + r.Header.Get("Content-Type"))
	}))
	defer srv.Close()
	s, err := newHTTP(httpConfig{URL: srv.URL, JSON: true, Retries: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []byte(`{"rule":"x"}`), testAlert()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || body.Load() != `{"rule":"x"}application/json` {
		t.Errorf("calls=%d body=%v", calls.Load(), body.Load())
	}
	s.cfg.Retries = 0
	calls.Store(-10)
	if err := s.Send(context.Background(), []byte("x"), testAlert()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("error = %v, want the 503", err)
	}
}

func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.log")
	f, err := newFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Send(context.Background(), []byte("one\n"), nil)
	os.Rename(path, path+".1") // logrotate moves the file
	f.Send(context.Background(), []byte("two\n"), nil)
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	f.Send(context.Background(), []byte("three\n"), nil)
	f.Close()
	rotated, _ := os.ReadFile(path + ".1")
	fresh, _ := os.ReadFile(path)
	if string(rotated) != "one\ntwo\n" || string(fresh) != "three\n" {
		t.Errorf("rotated %q, fresh %q", rotated, fresh)
	}
}

func TestProgramRestarts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	p := newProgram("cat >> " + out)
	for _, l := range []string{"a\n", "b\n", "c\n"} {
		if err := p.Send(context.Background(), []byte(l), nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { b, _ := os.ReadFile(out); return strings.HasSuffix(string(b), l) })
		// The program dies after each line; the next alert restarts it.
		p.cmd.Process.Kill()
		<-p.done
	}
	p.Close()
	if b, _ := os.ReadFile(out); string(b) != "a\nb\nc\n" {
		t.Errorf("program got %q", b)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReopenOnSignal: a receive on Env.Reopen makes the file output write
// to a new file at its path, after rotation renamed the old one.
func TestReopenOnSignal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.json")
	cfg, err := config.Load("", []string{"stdout_output.enabled=false", "file_output.enabled=true",
		"file_output.filename=" + path, "json_output=true"})
	if err != nil {
		t.Fatal(err)
	}
	hup := make(chan os.Signal)
	o, err := Build(cfg, Env{Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Reopen: hup})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	lines := func(p string) int {
		b, _ := os.ReadFile(p)
		return strings.Count(string(b), "\n")
	}
	o.Publish(testAlert())
	waitFor(t, func() bool { return lines(path) == 1 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	// Publish until an alert lands in the new file: the reopen happens on
	// Start's goroutine, at a time the test cannot see.
	waitFor(t, func() bool {
		o.Publish(testAlert())
		time.Sleep(5 * time.Millisecond)
		return lines(path) >= 1
	})
	if n := lines(path + ".1"); n < 1 {
		t.Errorf("rotated file has %d alerts, want the first one at least", n)
	}
}
