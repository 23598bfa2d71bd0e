package stream

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/session"
)

// replica is one of the service's replicas in a test: a hub on its own
// listener, and the alerts it published, by rule.
type replica struct {
	*received
	hub *Hub
	url string
}

// TestReplicas: an agent given one replica links to the others it names
// (then and later),
// takes announcements from either, sends alerts up one; when that one
// dies, the other gets the alerts it had not acknowledged and the new
// ones, and none is lost. A peer list naming a replica already linked,
// under another URL, makes no second link.
func TestReplicas(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srvA := serve(t, nil, "127.0.0.1:0")
	srvB := serve(t, nil, "127.0.0.1:0")
	urlA, urlB := srvA.URL+"/agent/v1/stream", srvB.URL+"/agent/v1/stream"
	// B names A twice: as A's own URL and as localhost.
	_, portA, _ := net.SplitHostPort(srvA.Listener.Addr().String())
	localA := "https://localhost:" + portA + "/agent/v1/stream"
	a := newReplica("a", urlA, []string{urlB}, log)
	b := newReplica("b", urlB, []string{urlA, localA}, log)
	srvA.Config.Handler, srvB.Config.Handler = a.hub, b.hub
	defer srvB.Close()

	announced := make(chan string, 4)
	reg := prometheus.NewRegistry()
	cl := NewClient(ClientOptions{URL: urlA, Node: "node-1", Log: log, TLS: &tls.Config{
		RootCAs: srvA.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "127.0.0.1"},
		OnAnnounce: func(s session.Announcement) { announced <- s.ID }}, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "links to both replicas", func() bool { return testutil.ToFloat64(cl.connected) == 2 })
	// A third replica starts; a learns of it (as from the cluster) and
	// tells the agent, which links to it.
	srvC := serve(t, nil, "127.0.0.1:0")
	c := newReplica("c", srvC.URL+"/agent/v1/stream", nil, log)
	srvC.Config.Handler = c.hub
	a.hub.SetPeers([]string{urlB, c.url})
	eventually(t, "a link to the third replica", func() bool { return testutil.ToFloat64(cl.connected) == 3 })
	c.hub.Close()
	srvC.CloseClientConnections()
	srvC.Close()
	eventually(t, "the third replica gone", func() bool { return testutil.ToFloat64(cl.connected) == 2 })
	for _, r := range []*replica{a, b} {
		eventually(t, "an announcement from "+r.hub.o.Replica, func() bool {
			return r.hub.Announce(session.Announcement{ID: "from-" + r.hub.o.Replica, Node: "node-1"})
		})
		if id := <-announced; id != "from-"+r.hub.o.Replica {
			t.Errorf("announced %s", id)
		}
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			cl.Send(ctx, nil, &output.Alert{Rule: strconv.Itoa(i), Priority: rules.Notice})
		}
	}
	send(0, 500)
	eventually(t, "the first alerts at a", func() bool { return a.total() == 500 })
	// A dies without a word: its acknowledgements of the last batches,
	// if any, are lost with it.
	a.hub.Close()
	srvA.CloseClientConnections()
	srvA.Close()
	send(500, 1000)
	eventually(t, "every alert published", func() bool { return a.distinct(b) == 1000 })
	if n := testutil.ToFloat64(cl.moves); n != 1 {
		t.Errorf("primary changes %v, want 1", n)
	}
	if n := testutil.ToFloat64(cl.connected); n != 1 {
		t.Errorf("links up %v after a died, want 1 (localhost is a, not linked twice)", n)
	}
}

func newReplica(id, url string, peers []string, log *slog.Logger) *replica {
	r := &replica{received: &received{rules: map[string]int{}}, url: url}
	r.hub = NewHub(HubOptions{Publish: r.publish, Replica: id, Peers: peers, Log: log}, prometheus.NewRegistry())
	return r
}

func (r *received) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.rules {
		n += c
	}
	return n
}

// distinct counts the alerts published by r or o, each once.
func (r *received) distinct(o *replica) int {
	seen := map[string]bool{}
	for _, x := range []*received{r, o.received} {
		x.mu.Lock()
		for rule := range x.rules {
			seen[rule] = true
		}
		x.mu.Unlock()
	}
	return len(seen)
}

// stuckSink takes one alert and never finishes writing it: the outputs of
// a replica about to die, its queue full of alerts not yet written.
type stuckSink struct{ release chan struct{} }

func (s stuckSink) Name() string { return "stuck" }
func (s stuckSink) Send(context.Context, []byte, *output.Alert) error {
	<-s.release
	return nil
}
func (s stuckSink) Close() error { return nil }

// TestUndeliveredResent: a replica acknowledges a batch only once its
// outputs have delivered it. Replica a publishes 300 alerts but writes
// none before it dies; the agent sends all of them to b.
func TestUndeliveredResent(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srvA := serve(t, nil, "127.0.0.1:0")
	srvB := serve(t, nil, "127.0.0.1:0")
	defer srvB.Close()
	urlA, urlB := srvA.URL+"/agent/v1/stream", srvB.URL+"/agent/v1/stream"
	stuck := stuckSink{make(chan struct{})}
	outs := output.New(output.DefaultFormat(), []output.SinkConfig{{Sink: stuck, MinPriority: rules.Debug}},
		prometheus.NewRegistry(), log)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	defer close(stuck.release)
	wg.Go(func() { outs.Start(ctx) })
	published := &received{rules: map[string]int{}}
	a := NewHub(HubOptions{Publish: func(al *output.Alert, r *output.Receipt) {
		published.publish(al, r)
		outs.Deliver(al, r)
	}, Replica: "a", Peers: []string{urlB}, Log: log}, prometheus.NewRegistry())
	b := newReplica("b", urlB, []string{urlA}, log)
	srvA.Config.Handler, srvB.Config.Handler = a, b.hub

	reg := prometheus.NewRegistry()
	cl := NewClient(ClientOptions{URL: urlA, Node: "node-1", Log: log, TLS: &tls.Config{
		RootCAs: srvA.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "127.0.0.1"}}, reg)
	wg.Go(func() { cl.Start(ctx) })
	eventually(t, "links to both replicas", func() bool { return testutil.ToFloat64(cl.connected) == 2 })
	for i := range 300 {
		cl.Send(ctx, nil, &output.Alert{Rule: strconv.Itoa(i), Priority: rules.Notice})
	}
	eventually(t, "the alerts published at a", func() bool { return published.total() == 300 })
	if n := b.total(); n != 0 {
		t.Fatalf("b published %d alerts while a was up", n)
	}
	srvA.CloseClientConnections() // a dies without a word
	srvA.Close()
	eventually(t, "every alert published by b", func() bool { return b.total() == 300 })
	if n := testutil.ToFloat64(cl.resent); n != 300 {
		t.Errorf("resent %v alerts, want 300", n)
	}
}
