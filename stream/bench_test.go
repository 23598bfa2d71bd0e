package stream

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// BenchmarkStreamThroughput: alerts an agent streams to the service over
// TLS on loopback, until the service has published them all (client and
// service share this machine's cores). The alert is a typical syscall one.
func BenchmarkStreamThroughput(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var published atomic.Int64
	hub := NewHub(HubOptions{Publish: func(*output.Alert, *output.Receipt) { published.Add(1) }, Log: log}, prometheus.NewRegistry())
	srv := serveB(b, hub)
	defer func() { hub.Close(); srv.Close() }()
	tlsCfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	cl := NewClient(ClientOptions{URL: srv.URL, Node: "node-1", TLS: tlsCfg, Log: log, Buffer: 1 << 22}, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	alert := &output.Alert{Time: time.Now(), Rule: "Terminal shell in container", Priority: rules.Notice, Source: "syscall",
		Hostname: "node-1", Message: "A shell was spawned in a container with an attached terminal | evt_type=execve user=root " +
			"user_uid=0 process=bash proc_exepath=/usr/bin/bash parent=containerd-shim command=bash -il terminal=34816",
		OutputFields: map[string]any{"container.id": "0123456789ab", "proc.name": "bash", "user.name": "root",
			"proc.cmdline": "bash -il", "k8s.pod.name": "web-7d4b9", "k8s.ns.name": "shop", "evt.time": int64(1795880000000000000)},
		Tags: []string{"container", "shell", "mitre_execution", "T1059"}}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		cl.Send(ctx, nil, alert)
	}
	for published.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "alerts/s")
}
