package stream

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// BenchmarkStreamThroughput: alerts an agent streams to the service over
// TLS on loopback, until the service has published them all (client and
// service share this machine's cores). The alert is a typical syscall
// one, each with its own id, time and command line. It reports the bytes
// the stream carries per alert (frames, after deflate, before TLS).
func BenchmarkStreamThroughput(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var published, wire atomic.Int64
	hub := NewHub(HubOptions{Publish: func(*output.Alert, *output.Receipt) { published.Add(1) }, Log: log}, prometheus.NewRegistry())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &wire}
		hub.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	defer func() { hub.Close(); srv.Close() }()
	tlsCfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	cl := NewClient(ClientOptions{URL: srv.URL, Node: "node-1", TLS: tlsCfg, Log: log, Buffer: 1 << 22}, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	now := time.Now()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t := now.Add(time.Duration(i) * time.Microsecond)
		cmdline := "bash -il " + strconv.Itoa(i)
		cl.Send(ctx, nil, &output.Alert{ID: fmt.Sprintf("1b4e28ba-2fa1-41d2-883f-%012x", i), Time: t,
			Rule: "Terminal shell in container", Priority: rules.Notice, Source: "syscall", Hostname: "node-1",
			Message: "A shell was spawned in a container with an attached terminal | evt_type=execve user=root " +
				"user_uid=0 process=bash proc_exepath=/usr/bin/bash parent=containerd-shim command=" + cmdline + " terminal=34816",
			OutputFields: map[string]any{"container.id": "0123456789ab", "proc.name": "bash", "user.name": "root",
				"proc.cmdline": cmdline, "k8s.pod.name": "web-7d4b9", "k8s.ns.name": "shop", "evt.time": t.UnixNano()},
			Tags: []string{"container", "shell", "mitre_execution", "T1059"}})
	}
	for published.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "alerts/s")
	b.ReportMetric(float64(wire.Load())/float64(b.N), "wire-B/alert")
}

// countingBody counts what is read of a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
