package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testpki"
)

// percentiles reports the p50 and p99 of latencies.
func percentiles(b *testing.B, lat []time.Duration, unit string, scale time.Duration) {
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(scale) }
	b.ReportMetric(at(0.50), "p50-"+unit)
	b.ReportMetric(at(0.99), "p99-"+unit)
}

// BenchmarkAdmissionLatency sends AdmissionReviews at 1,000 requests/s
// (open loop) over loopback TLS to `serve` with the default rules and the
// upstream k8s_audit macros loaded, and reports the round-trip latency
// percentiles the client sees, an upper bound of the server's.
func BenchmarkAdmissionLatency(b *testing.B) {
	rulesFiles := "rules_files=[" + filepath.Join(conformance.Dir(b), "rules", "k8s_audit_rules.yaml") + ", ../policies/peregrine_rules.yaml]"
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0", rulesFiles})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := serving(b, Options{Config: cfg})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CABundle())
	target := "https://" + s.Addrs().Admission.String() + "/validate"
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
	body := []byte(privilegedReview)
	send := func() time.Duration {
		start := time.Now()
		resp, err := client.Post(target, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	for range 50 { // warm the connection pool
		send()
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Go(func() { lat[i] = send() })
	}
	wg.Wait()
	b.StopTimer()
	percentiles(b, lat, "µs", time.Microsecond)
}

// BenchmarkPodCreateWebhookOverhead measures pod creation (dry run, so
// admission runs but nothing is stored) through a real kube-apiserver with
// the webhook registered and without it, and reports what the webhook
// adds at p50 and p99. The two are measured in alternating blocks of 250
// (the machine's load drifts), at least 1,000 each, each block after the
// apiserver is seen to call the webhook, or no longer to.
func BenchmarkPodCreateWebhookOverhead(b *testing.B) {
	cfg, err := config.Load("", []string{"k8s_audit.listen_port=0", "webserver.listen_port=0", "admission.listen_port=0",
		"admission.latency_budget=2s"})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := serving(b, Options{Config: cfg})
	k := kubetest.Start(b, kubetest.Options{CA: testpki.NewCA(b)})
	k.Namespaces(b, "shop")
	url := "https://" + s.Addrs().Admission.String() + "/validate"
	pod := obj("Pod", "bench", map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.27", "resources": limits()}}})
	measure := func(into []time.Duration) []time.Duration {
		for range 250 {
			start := time.Now()
			if code, body, err := k.Do(kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods?dryRun=All", pod); err != nil || code != 201 {
				b.Fatalf("create: %d %s %v", code, body, err)
			}
			into = append(into, time.Since(start))
		}
		return into
	}
	var with, without []time.Duration
	for len(without) < max(b.N, 1000) {
		k.RegisterWebhook(b, url, s.CABundle(), "shop") // returns once it judges
		with = measure(with)
		unregister(b, k)
		without = measure(without)
	}
	slices.Sort(with)
	slices.Sort(without)
	q := func(l []time.Duration, p float64) time.Duration { return l[int(p*float64(len(l)-1))] }
	b.ReportMetric(float64(q(with, 0.5)-q(without, 0.5))/1e6, "added-p50-ms")
	b.ReportMetric(float64(q(with, 0.99)-q(without, 0.99))/1e6, "added-p99-ms")
	b.ReportMetric(float64(q(with, 0.99))/1e6, "with-p99-ms")
	b.ReportMetric(float64(q(without, 0.99))/1e6, "without-p99-ms")
}

// unregister deletes the webhook and waits until the apiserver admits a
// privileged pod again: until it no longer calls the webhook.
func unregister(b *testing.B, k *kubetest.Env) {
	k.MustDo(b, kubetest.AdminToken, http.MethodDelete, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/peregrine", nil, 200)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _, _ := k.Do(kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods?dryRun=All", privilegedPod("probe")); code == 201 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the apiserver still calls the deleted webhook")
		}
	}
}
