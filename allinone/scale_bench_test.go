package allinone

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/internal/kubetest"
	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/internal/testpki"
	"github.com/peregrine-sec/peregrine/session"
	"github.com/peregrine-sec/peregrine/stream"
)

// BenchmarkReplicasAtScale: three `peregrine serve` processes watching a
// real apiserver that holds 30 running pods per node, with 100, 300 and
// 1,000 simulated agents (stream clients, one per node, each given one
// replica and linking to the others), and exec AdmissionReviews sent to
// the replicas in turn at 100 per second for 10 s (a fixed schedule, not
// b.N: it outlasts the default benchtime, so it runs once). It reports
// the latency from sending the review to the announcement reaching the
// agent (p50, p99), and each replica's resident memory and CPU (the
// mean over the three; max for memory too).
func BenchmarkReplicasAtScale(b *testing.B) {
	kubetest.BinDir(b)
	bin := buildPeregrine(b)
	ca := testpki.NewCA(b)
	kubePort := kubetest.FreePort(b)
	kube := kubetest.Start(b, kubetest.Options{CA: ca, Port: kubePort})
	kube.Namespaces(b, "shop")
	pods := &podFiller{kube: kube}
	for _, n := range []int{100, 300, 1000} {
		b.Run("agents="+strconv.Itoa(n), func(b *testing.B) {
			pods.fill(b, n)
			replicasAtScale(b, bin, ca, kubetest.Kubeconfig(b, ca, kubePort, kubetest.AdminToken), n)
		})
	}
}

const (
	podsPerNode = 30
	scaleExecs  = 1000
)

// podFiller creates the pods of nodes node-0 to node-(n-1), each running,
// with a container id, as a kubelet reports them.
type podFiller struct {
	kube  *kubetest.Env
	nodes int
}

func (f *podFiller) fill(b *testing.B, nodes int) {
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := f.create(i/podsPerNode, i%podsPerNode); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := f.nodes * podsPerNode; i < nodes*podsPerNode; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	if nodes > f.nodes {
		b.Logf("%d pods created in %v", (nodes-f.nodes)*podsPerNode, time.Since(start).Round(time.Second))
		f.nodes = nodes
	}
}

func (f *podFiller) create(node, k int) error {
	name := fmt.Sprintf("p-%d-%d", node, k)
	spec := map[string]any{"nodeName": "node-" + strconv.Itoa(node),
		"containers": []any{map[string]any{"name": "app", "image": "busybox:1.36"}}}
	pod := kubetest.Obj("Pod", name, spec)
	pod["metadata"].(map[string]any)["labels"] = map[string]any{"app": "shop", "tier": strconv.Itoa(k % 3)}
	if code, body, err := f.kube.Do(kubetest.AdminToken, http.MethodPost, "/api/v1/namespaces/shop/pods", pod); err != nil || code != 201 {
		return fmt.Errorf("create %s: %d %s %v", name, code, body, err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	status := map[string]any{"status": map[string]any{"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": []any{map[string]any{
		"name": "app", "ready": true, "restartCount": 0, "image": "busybox:1.36", "imageID": "",
		"containerID": "containerd://" + hex.EncodeToString(id), "state": map[string]any{"running": map[string]any{}}}}}}
	if code, body, err := f.kube.Do(kubetest.AdminToken, http.MethodPatch, "/api/v1/namespaces/shop/pods/"+name+"/status", status); err != nil || code != 200 {
		return fmt.Errorf("status %s: %d %s %v", name, code, body, err)
	}
	return nil
}

func replicasAtScale(b *testing.B, bin string, ca *testpki.CA, kubeconfig string, agents int) {
	ports := listenersOf(b, 3)
	var replicas []*process
	for i := range 3 {
		replicas = append(replicas, startServe(b, bin, ca, kubeconfig, ports, i))
	}
	caPEM, err := os.ReadFile(ca.CertPEM)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	got := startAgents(b, ports.agentURLs(), agents, pool, ca)
	waitLinked(b, replicas, agents, 3*time.Minute)
	send := reviewSender(pool, ports.admission)
	// Warm up until every replica routes (its pod watch has synced): 30
	// announcements in a row arrive.
	for i, inARow := 0, 0; inARow < 30; i++ {
		id := "warm-" + strconv.Itoa(i)
		if err := send(i%3, id, fmt.Sprintf("p-%d-0", i%agents)); err != nil {
			b.Fatal(err)
		}
		inARow++
		if !got.Within(id, 200*time.Millisecond) {
			inARow = 0
		}
		if i > 3000 {
			b.Fatal("the replicas do not route the warm-up execs")
		}
	}
	cpu0 := make([]time.Duration, 3)
	for i, r := range replicas {
		_, cpu0[i] = r.usage(b)
	}
	sent := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(10 * time.Millisecond) // 100 execs a second, open loop
	defer tick.Stop()
	start := time.Now()
	b.ResetTimer()
	for i := range scaleExecs {
		<-tick.C
		id := "exec-" + strconv.Itoa(i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		wg.Go(func() {
			if err := send(i%3, id, fmt.Sprintf("p-%d-%d", i%agents, i%podsPerNode)); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	lat := got.Latencies(b, sent)
	b.StopTimer()
	elapsed := time.Since(start)
	var rssSum, rssMax int64
	var cpu time.Duration
	for i, r := range replicas {
		rss, c := r.usage(b)
		rssSum, rssMax, cpu = rssSum+rss, max(rssMax, rss), cpu+c-cpu0[i]
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(rssSum)/3/(1<<20), "rss-MiB/replica")
	b.ReportMetric(float64(rssMax)/(1<<20), "rss-max-MiB")
	b.ReportMetric(100*cpu.Seconds()/3/elapsed.Seconds(), "cpu-%/replica")
}

// startAgents links agents simulated agents (node-0 …) to the replicas,
// each given one of urls, and records when announcements reach them.
func startAgents(b *testing.B, urls []string, agents int, pool *x509.CertPool, ca *testpki.CA) *testenv.Arrivals {
	certFile, keyFile := ca.Client(b, "peregrine-agent", "")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		b.Fatal(err)
	}
	tlsCfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	got := &testenv.Arrivals{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	for i := range agents {
		cl := stream.NewClient(stream.ClientOptions{URL: urls[i%len(urls)], Node: "node-" + strconv.Itoa(i), TLS: tlsCfg, Log: log,
			OnAnnounce: func(a session.Announcement) { got.Arrived(a.Command[len(a.Command)-1]) }}, prometheus.NewRegistry())
		wg.Go(func() { cl.Start(ctx) })
	}
	return got
}

// reviewSender posts the AdmissionReview of alice's exec of `sh id` into
// pod (its container app) to replica i: the agent tells it by its id.
func reviewSender(pool *x509.CertPool, admissionPorts []int) func(i int, id, pod string) error {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
	return func(i int, id, pod string) error {
		body := fmt.Sprintf(execReview, id, pod, id)
		url := "https://127.0.0.1:" + strconv.Itoa(admissionPorts[i]) + "/validate"
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("admission review: %s", resp.Status)
		}
		return nil
	}
}

const execReview = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%s",` +
	`"kind":{"group":"","version":"v1","kind":"PodExecOptions"},"resource":{"group":"","version":"v1","resource":"pods"},` +
	`"subResource":"exec","requestKind":{"group":"","version":"v1","kind":"PodExecOptions"},` +
	`"requestResource":{"group":"","version":"v1","resource":"pods"},"requestSubResource":"exec",` +
	`"name":"%s","namespace":"shop","operation":"CONNECT","userInfo":{"username":"alice","groups":["devs"]},` +
	`"object":{"kind":"PodExecOptions","apiVersion":"v1","stdin":true,"stdout":true,"tty":true,"container":"app","command":["sh","%s"]},` +
	`"oldObject":null,"dryRun":false,"options":null}}`
