package server

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
)

// BenchmarkAuditHTTP posts EventLists of 400 recorded events over
// loopback HTTP to a running server with the upstream k8s_audit rules and
// measures events/s until every event is evaluated (alerts go to a
// discarding stdout).
func BenchmarkAuditHTTP(b *testing.B) {
	dir := conformance.Dir(b)
	items := strings.Split(strings.TrimSpace(string(conformance.RealTraffic(b))), "\n")
	body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items[:400], ",") + `]}`)
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.enabled=false",
		"rules_files=[" + filepath.Join(dir, "rules", "k8s_audit_rules.yaml") + "]", "k8s_audit.queue_size=1000000"})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, _ := serving(b, Options{Config: cfg, Registry: reg})
	url := "http://" + s.Addrs().Audit.String() + "/k8s-audit"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				b.Errorf("post: %v %v", err, resp)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	want := float64(b.N * 400)
	for deadline := time.Now().Add(time.Minute); evaluated(reg) < want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			// Posted is not evaluated: a figure now would be the wrong one.
			b.Fatalf("%v of %v events evaluated a minute after the last post", evaluated(reg), want)
		}
	}
	b.StopTimer()
	b.ReportMetric(want/b.Elapsed().Seconds(), "events/s")
}

func evaluated(reg *prometheus.Registry) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "peregrine_audit_events_evaluated_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
