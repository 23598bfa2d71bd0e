package stream

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/internal/testenv"
	rt "github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

// BenchmarkAnnounceReplicas: agents linked to 3 replicas (each given one
// replica and learning the others from its Peers), 30 pods per node known
// to the replicas (30,000 at 1,000 agents), and exec announcements from
// the replicas in turn at 100 per second, one per iteration. It reports
// the latency from Announce to the agent's callback, and the heap that
// each agent's three links cost both sides together (agents and
// replicas share this process and its two cores, so the figures are an
// upper bound of one replica's).
func BenchmarkAnnounceReplicas(b *testing.B) {
	for _, n := range []int{100, 300, 1000} {
		b.Run("agents="+strconv.Itoa(n), func(b *testing.B) { announceReplicas(b, n) })
	}
}

func announceReplicas(b *testing.B, agents int) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pods := staticPods{}
	for i := range agents {
		node := "node-" + strconv.Itoa(i)
		for p := range 30 {
			pods[node] = append(pods[node], rt.PodInfo{ID: node + "-c" + strconv.Itoa(p), Name: "app", Pod: "pod-" + strconv.Itoa(p), Namespace: "shop"})
		}
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hubs, tlsCfg := startReplicas(b, 3, pods, log)
	got := &testenv.Arrivals{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range agents {
		cl := NewClient(ClientOptions{URL: hubs[i%3].url, Node: "node-" + strconv.Itoa(i), TLS: tlsCfg, Log: log,
			OnAnnounce: func(a session.Announcement) { got.Arrived(a.ID) }}, prometheus.NewRegistry())
		wg.Go(func() { cl.Start(ctx) })
	}
	for _, h := range hubs {
		waitConnected(b, h.hub, agents)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	sent := map[string]time.Time{}
	tick := time.NewTicker(10 * time.Millisecond) // 100 execs per second
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		id := strconv.Itoa(i)
		sent[id] = time.Now()
		hubs[i%3].hub.Announce(session.Announcement{ID: id, Node: "node-" + strconv.Itoa(i%agents)})
	}
	lat := got.Latencies(b, sent)
	b.StopTimer()
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(agents)/1024, "heap-KiB/agent")
}

// startReplicas runs n hubs on loopback over TLS, each naming the others.
func startReplicas(b *testing.B, n int, pods PodSource, log *slog.Logger) ([]*replica, *tls.Config) {
	var urls []string
	var srvs []*http.Server
	hubs := make([]*replica, n)
	for i := range n {
		srv := serveB(b, nil)
		b.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/agent/v1/stream")
		srvs = append(srvs, srv.Config)
		hubs[i] = &replica{received: &received{rules: map[string]int{}}, url: urls[i]}
	}
	for i, h := range hubs {
		others := slices.Delete(slices.Clone(urls), i, i+1)
		h.hub = NewHub(HubOptions{Publish: h.publish, Pods: pods, Replica: strconv.Itoa(i), Peers: others, Log: log},
			prometheus.NewRegistry())
		srvs[i].Handler = h.hub
		b.Cleanup(h.hub.Close)
	}
	first := serveB(b, nil) // only for its client's CA: every httptest server shares one certificate
	defer first.Close()
	return hubs, &tls.Config{RootCAs: first.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
}

func waitConnected(b *testing.B, h *Hub, n int) {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		h.mu.Lock()
		got := len(h.agents)
		h.mu.Unlock()
		if got == n {
			return
		}
	}
	b.Fatalf("a replica has not every agent linked")
}
