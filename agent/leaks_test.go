package agent

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/stream"
)

// TestAgentLeavesNoGoroutines: the agent, with a file output and its
// stream to a service, after capturing and raising an alert, leaves no
// goroutine behind once its context ends; the alert reached both.
func TestAgentLeavesNoGoroutines(t *testing.T) {
	testenv.RequireKernel(t)
	var streamed atomic.Int64
	hub := stream.NewHub(stream.HubOptions{Publish: func(*output.Alert, *output.Receipt) { streamed.Add(1) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, prometheus.NewRegistry())
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	check := testenv.LeakCheck(t)
	rules := filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml")
	cfg, err := config.Load("", []string{"rules_files=[" + rules + "]", "stdout_output.enabled=false",
		"file_output.enabled=true", "file_output.filename=" + filepath.Join(t.TempDir(), "alerts.json"),
		"server.url=" + srv.URL + "/agent/v1/stream", "server.node_name=node-a"})
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, Options{Config: cfg, Hostname: "node-a"})
	defer stop()
	run(t, "cat", "/etc/shadow")
	deadline := time.Now().Add(5 * time.Second)
	for streamed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if streamed.Load() == 0 {
		t.Fatal("no alert reached the service")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	check()
}
