package stream

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

type staticPods map[string][]runtime.PodInfo

func (p staticPods) NodeVersion(node string) uint64     { return uint64(len(p[node])) }
func (p staticPods) Node(node string) []runtime.PodInfo { return p[node] }

// received is what the service published.
type received struct {
	mu    sync.Mutex
	rules map[string]int
	binds map[string]int // by session
}

func (r *received) bind(b session.Binding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.binds == nil {
		r.binds = map[string]int{}
	}
	r.binds[b.ID+" "+b.ContainerID]++
}

func (r *received) bound(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.binds[key]
}

func (r *received) publish(a *output.Alert, _ *output.Receipt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rules[a.Rule]++
}

func (r *received) count(rule string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rules[rule]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveB runs the hub on any loopback port over TLS.
func serveB(tb testing.TB, hub *Hub) *httptest.Server {
	srv := httptest.NewUnstartedServer(hub)
	srv.StartTLS()
	return srv
}

// serve runs the hub on addr over TLS.
func serve(t *testing.T, hub *Hub, addr string) *httptest.Server {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(hub)
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	return srv
}

// TestStream: alerts and bindings flow up and are acknowledged;
// announcements and the node's pods flow down; while the service
// restarts, alerts and bindings wait in the agent's buffer and none is
// lost.
func TestStream(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	got := &received{rules: map[string]int{}}
	pods := staticPods{"node-1": {{ID: "c1", Name: "app", Pod: "web", Namespace: "shop"}}}
	hub := NewHub(HubOptions{Publish: got.publish, Bind: got.bind, Pods: pods, Log: log}, prometheus.NewRegistry())
	srv := serve(t, hub, "127.0.0.1:0")
	addr := srv.Listener.Addr().String()
	tlsCfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	announced, podsSeen := make(chan session.Announcement, 1), make(chan []runtime.PodInfo, 4)
	cl := NewClient(ClientOptions{URL: srv.URL + "/agent/v1/stream", Node: "node-1", TLS: tlsCfg, Log: log,
		OnAnnounce: func(a session.Announcement) { announced <- a }, OnPods: func(c []runtime.PodInfo) { podsSeen <- c }},
		prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if c := <-podsSeen; len(c) != 1 || c[0].ID != "c1" {
		t.Errorf("pods %+v", c)
	}
	send := func(n int, rule string) {
		for range n {
			cl.Send(ctx, nil, &output.Alert{Rule: rule, Priority: rules.Notice, Time: time.Now()})
		}
	}
	send(600, "before")
	eventually(t, "600 alerts published", func() bool { return got.count("before") == 600 })
	eventually(t, "acknowledgements", func() bool { cl.mu.Lock(); defer cl.mu.Unlock(); return cl.queued == 0 })
	cl.Bind(session.Binding{ID: "s0", ContainerID: "c1", Time: time.Now()})
	eventually(t, "a binding published", func() bool { return got.bound("s0 c1") == 1 })

	eventually(t, "the agent registered", func() bool {
		return hub.Announce(session.Announcement{ID: "s1", Node: "node-1", Command: []string{"sh"}})
	})
	if a := <-announced; a.ID != "s1" {
		t.Errorf("announcement %+v", a)
	}
	if hub.Announce(session.Announcement{ID: "s2", Node: "node-2"}) {
		t.Error("announced to a node with no agent")
	}

	// The service goes away; alerts keep coming; it comes back.
	hub.Close()
	srv.Close()
	send(300, "during")
	cl.Bind(session.Binding{ID: "s1", ContainerID: "c1", Time: time.Now()})
	hub2 := NewHub(HubOptions{Publish: got.publish, Bind: got.bind, Pods: pods, Log: log}, prometheus.NewRegistry())
	srv2 := serve(t, hub2, addr)
	defer func() { hub2.Close(); srv2.Close() }()
	eventually(t, "alerts sent while the service was away", func() bool { return got.count("during") >= 300 })
	eventually(t, "the binding made while the service was away", func() bool { return got.bound("s1 c1") == 1 })
	if n := got.count("before"); n != 600 {
		t.Errorf("alerts before the restart published %d times, want 600", n)
	}
	if n := got.bound("s0 c1"); n != 1 {
		t.Errorf("the binding before the restart published %d times, want 1", n)
	}
}

// TestClientBufferBounded: with the service away, the agent keeps the
// newest alerts up to its buffer (dropping the oldest batch at a time)
// and counts what it drops.
func TestClientBufferBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	cl := NewClient(ClientOptions{URL: "https://127.0.0.1:1/agent/v1/stream", Node: "n", Buffer: 300,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, reg)
	for i := range 1000 {
		cl.Send(context.Background(), nil, &output.Alert{Rule: strconv.Itoa(i), Priority: rules.Notice})
	}
	cl.mu.Lock()
	queued, oldest := cl.queued, cl.open[0].Rule
	if len(cl.unacked) > 0 {
		oldest = cl.unacked[0].Alerts[0].Rule
	}
	cl.mu.Unlock()
	dropped := testutil.ToFloat64(cl.dropped)
	if queued > 300 || queued+int(dropped) != 1000 || oldest != strconv.Itoa(int(dropped)) {
		t.Errorf("queued %d, dropped %v, oldest kept %s", queued, dropped, oldest)
	}
	// Bindings wait for a batch up to maxBinds; past it the oldest go,
	// counted.
	for i := range maxBinds + 5 {
		cl.Bind(session.Binding{ID: strconv.Itoa(i)})
	}
	cl.mu.Lock()
	kept, first := len(cl.binds), cl.binds[0].ID
	cl.mu.Unlock()
	if n := testutil.ToFloat64(cl.bindsDropped); kept != maxBinds || n != 5 || first != "5" {
		t.Errorf("bindings: %d kept from %s, %v dropped; want %d from 5, 5 dropped", kept, first, n, maxBinds)
	}
}
