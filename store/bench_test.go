package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// alertN is a varied alert, shaped as real ones are: 50 rules, 100
// namespaces, 1,000 pods; half from audit events (ka.user.name, one of
// 200 users), half syscall alerts (no ka.user.name; a tenth of them from
// an exec session, with k8s.exec.user and k8s.exec.id).
func alertN(i int) *output.Alert {
	user, ns := fmt.Sprintf("user-%d", i%200), fmt.Sprintf("ns-%d", i%100)
	fields := map[string]any{"k8s.ns.name": ns, "k8s.pod.name": fmt.Sprintf("pod-%d", i%1000), "evt.time": i,
		"proc.cmdline": "cat /etc/shadow"}
	source := "k8s_audit"
	if i%2 == 1 {
		source = "syscall"
		if i%20 == 1 {
			fields["k8s.exec.user"], fields["k8s.exec.id"] = user, fmt.Sprintf("session-%d", i%500)
		}
	} else {
		fields["ka.user.name"] = user
	}
	return &output.Alert{ID: fmt.Sprintf("id-%d", i), Time: t0.Add(time.Duration(i) * time.Millisecond),
		Rule: fmt.Sprintf("Rule %d", i%50), Priority: rules.Priority(i % 8), Source: source,
		Message: fmt.Sprintf("Something happened (user=%s ns=%s n=%d)", user, ns, i), OutputFields: fields}
}

// BenchmarkStoreWrite: alerts/s through Send and Flush (batches of 256,
// as the outputs flush) until the writer has committed them.
func BenchmarkStoreWrite(b *testing.B) {
	s := open(b, Options{Path: filepath.Join(b.TempDir(), "w.db")})
	alerts := make([]*output.Alert, 256)
	for i := range alerts {
		alerts[i] = alertN(i)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, a := range alerts {
			send(s, a)
		}
		for s.Flush(); len(s.batches) == cap(s.batches); {
			time.Sleep(time.Millisecond) // never drop in a benchmark: wait for room
		}
		n += len(alerts)
	}
	for testutil.ToFloat64(s.metrics.written)+testutil.ToFloat64(s.metrics.dropped) < float64(n) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(testutil.ToFloat64(s.metrics.dropped), "dropped")
}

// BenchmarkStoreQuery: the API's queries on a million stored alerts;
// p50 and p99 of each over 50 runs.
func BenchmarkStoreQuery(b *testing.B) {
	const stored = 1_000_000
	s := open(b, Options{Path: filepath.Join(b.TempDir(), "q.db"), Log: slog.New(slog.DiscardHandler)})
	batch := make([]row, 0, 10000)
	for i := range stored {
		batch = append(batch, rowOf(alertN(i), alertN(i).Line(output.DefaultFormat())))
		if len(batch) == cap(batch) {
			if err := s.insert(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	queries := []string{"", "user=user-7", "rule=Rule+3", "namespace=ns-4&pod=pod-4", "priority=critical",
		"since=2026-12-02T10:05:00Z&until=2026-12-02T10:06:00Z", "q=n%3D424242", "user=nobody"}
	b.ResetTimer()
	for b.Loop() {
		for _, qs := range queries {
			v, _ := url.ParseQuery(qs)
			q, err := ParseQuery(v)
			if err != nil {
				b.Fatal(err)
			}
			var took []float64
			for range 50 {
				start := time.Now()
				if _, err := s.Alerts(context.Background(), q); err != nil {
					b.Fatal(err)
				}
				took = append(took, float64(time.Since(start).Microseconds())/1000)
			}
			slices.Sort(took)
			name := qs
			if name == "" {
				name = "newest"
			}
			b.ReportMetric(took[len(took)/2], name+"-p50-ms")
			b.ReportMetric(took[len(took)*99/100], name+"-p99-ms")
		}
	}
}
