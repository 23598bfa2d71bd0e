package stream

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

// ClientOptions configure an agent's stream.
type ClientOptions struct {
	URL      string // https://service:9767/agent/v1/stream
	Node     string
	Hostname string
	TLS      *tls.Config // CA, and the client certificate for mTLS
	// Token gives the bearer token, when not authenticating by
	// certificate; it is asked at every connection, so that a projected
	// ServiceAccount token the kubelet renews is read again.
	Token func() (string, error)
	// Buffer bounds the alerts kept until the service acknowledges them.
	Buffer int
	// DrainFor bounds how long a stopping client keeps sending what the
	// service has not acknowledged yet (default 2 s).
	DrainFor time.Duration
	Log      *slog.Logger
	// What the service sends. They are called on the goroutine that
	// reads each link's stream: one at a time per replica, concurrently
	// across replicas; a slow one holds up what its link brings next.
	OnAnnounce func(session.Announcement)
	OnConfirm  func(session.Confirmation)
	OnPods     func([]runtime.PodInfo)
}

// Client is an agent's stream to the service, and the output sink that
// feeds it alerts. It links to every replica it learns of (the one it is
// given, then those each names), sends its alerts up one of them (the
// primary), and takes announcements, confirmations and pods from all.
// Alerts stay in its bounded buffer until a replica acknowledges them;
// when the primary's replica goes away, the next link up sends again
// what was not acknowledged.
type Client struct {
	opts     ClientOptions
	http     *http.Client
	instance string // in every hello: replicas tell a batch sent again from a new one
	codec    codec

	mu      sync.Mutex
	open    []Alert           // not yet in a batch
	binds   []session.Binding // not yet in a batch
	unacked []Alerts          // sent or to send, oldest first
	queued  int               // alerts in open and unacked
	seq     uint64
	written uint64           // the last batch written on any link: one at or below it is sent again
	links   map[string]*link // by URL
	primary *link            // the up link alerts go through; nil: none is up
	spawn   func(*link)      // runs a link until the client stops; nil before Start

	connected                                        prometheus.Gauge
	dropped, bindsDropped, reconnects, resent, moves prometheus.Counter
}

// NewClient returns a client; Start runs it.
func NewClient(o ClientOptions, reg prometheus.Registerer) *Client {
	if o.Buffer <= 0 {
		o.Buffer = 100000
	}
	if o.DrainFor <= 0 {
		o.DrainFor = 2 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = o.TLS
	tr.ResponseHeaderTimeout = 30 * time.Second // the service answers at once; never wait on one that does not
	c := &Client{opts: o, http: &http.Client{Transport: tr}, instance: newInstance(), links: map[string]*link{},
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "peregrine_stream_connected",
			Help: "Links up from the agent to the service's replicas."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_alerts_dropped_total",
			Help: "Alerts dropped because the service was away longer than the buffer lasts."}),
		bindsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_bindings_dropped_total",
			Help: "Exec session bindings not reported because the service was away longer than the buffer lasts."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_reconnects_total",
			Help: "Times a link to a replica was (re)established."}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_alerts_resent_total",
			Help: "Alerts sent again because the link they went up on ended before they were acknowledged; a replica that had published them makes these duplicates (dropped when it is the same replica)."}),
		moves: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_primary_changes_total",
			Help: "Times the link alerts go up moved to another replica."}),
	}
	reg.MustRegister(c.connected, c.dropped, c.bindsDropped, c.reconnects, c.resent, c.moves)
	return c
}

// newInstance is a random id for this agent process.
func newInstance() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Name implements output.Sink.
func (c *Client) Name() string { return "server" }

// Close implements output.Sink.
func (c *Client) Close() error { return nil }

// Send implements output.Sink: the alert joins the next batch. It never
// blocks; past the buffer the oldest alerts are dropped and counted.
func (c *Client) Send(_ context.Context, _ []byte, a *output.Alert) error {
	c.mu.Lock()
	c.open = append(c.open, fromAlert(a))
	c.queued++
	full := len(c.open) >= maxBatch
	if full {
		c.cutLocked() // batches form while the service is away too
	}
	for c.queued > c.opts.Buffer {
		n := 1
		if len(c.unacked) > 0 {
			n = len(c.unacked[0].Alerts)
			c.bindsDropped.Add(float64(len(c.unacked[0].Bindings)))
			c.unacked = c.unacked[1:]
		} else {
			c.open = c.open[1:]
		}
		c.queued -= n
		c.dropped.Add(float64(n))
	}
	if full {
		c.pokeLocked()
	}
	c.mu.Unlock()
	return nil
}

const (
	maxBatch   = 256
	batchEvery = 50 * time.Millisecond
	maxBinds   = 1024 // bindings waiting for a batch; past it the oldest go
)

// Bind has a binding go up with the next batch. It never blocks (the
// session registry calls it under its lock).
func (c *Client) Bind(b session.Binding) {
	c.mu.Lock()
	if len(c.binds) == maxBinds {
		c.binds = c.binds[1:]
		c.bindsDropped.Inc()
	}
	c.binds = append(c.binds, b)
	c.pokeLocked()
	c.mu.Unlock()
}

// pokeLocked wakes the primary link to send what is new.
func (c *Client) pokeLocked() {
	if c.primary != nil {
		c.primary.poke()
	}
}

// Start streams until ctx ends, each link reconnecting with exponential
// backoff (1 s to 30 s) while its replica is away; then, for up to
// DrainFor, it goes on until the service has acknowledged every alert
// sent so far.
func (c *Client) Start(ctx context.Context) {
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	c.mu.Lock()
	c.spawn = func(l *link) {
		if runCtx.Err() == nil {
			wg.Go(func() { l.run(runCtx) })
		}
	}
	c.addLinkLocked(c.opts.URL)
	c.mu.Unlock()
	<-ctx.Done()
	c.drain(c.opts.DrainFor)
	stop()
}

// addLinkLocked links to the replica at url, unless a link to it exists.
func (c *Client) addLinkLocked(url string) {
	if _, ok := c.links[url]; ok || url == "" {
		return
	}
	l := &link{c: c, url: url, learned: url != c.opts.URL, wake: make(chan struct{}, 1)}
	c.links[url] = l
	c.spawn(l)
}

// forget drops a learned link, so that its URL may be learned again.
func (c *Client) forget(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.links[l.url] == l {
		delete(c.links, l.url)
	}
}

// up makes l a link that is up: the primary when there is none.
func (c *Client) up(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.up, l.sent = true, 0
	c.connected.Inc()
	c.reconnects.Inc()
	if c.primary == nil {
		c.primary = l
		l.poke()
	}
}

// down takes l out; when it was the primary, the next link up becomes the
// primary and sends again whatever is unacknowledged.
func (c *Client) down(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !l.up {
		return
	}
	l.up = false
	c.connected.Dec()
	if c.primary != l {
		return
	}
	c.primary = nil
	for _, other := range c.links {
		if other.up {
			c.primary, other.sent = other, 0
			c.moves.Inc()
			other.poke()
			break
		}
	}
}

// linkedBesides is the replicas that links other than l reach now.
func (c *Client) linkedBesides(l *link) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, other := range c.links {
		if other != l && other.up && other.replica != "" {
			out = append(out, other.replica)
		}
	}
	return out
}

// learn takes a replica's Peers: a link to a replica another link up
// reaches already is refused (false: it ends, and tries again later), and
// the replicas it names are linked to.
func (c *Client) learn(l *link, p Peers) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, other := range c.links {
		if other != l && other.up && p.Replica != "" && other.replica == p.Replica {
			return false
		}
	}
	l.replica = p.Replica
	for _, u := range p.URLs {
		c.addLinkLocked(u)
	}
	return true
}

// pending is the batches l has to write now: none unless it is the
// primary; the open batch is cut first.
func (c *Client) pending(l *link) []Alerts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.primary != l {
		return nil
	}
	if len(c.open) > 0 || len(c.binds) > 0 {
		c.cutLocked()
	}
	var todo []Alerts
	for _, b := range c.unacked {
		if b.Seq > l.sent {
			todo = append(todo, b)
			if b.Seq <= c.written {
				c.resent.Add(float64(len(b.Alerts)))
			}
		}
	}
	if len(todo) > 0 {
		l.sent = todo[len(todo)-1].Seq
		c.written = max(c.written, l.sent)
	}
	return todo
}

// cutLocked closes the open batch, keeping it until acknowledged.
func (c *Client) cutLocked() {
	c.seq++
	c.unacked = append(c.unacked, Alerts{Seq: c.seq, Alerts: c.open, Bindings: c.binds})
	c.open, c.binds = nil, nil
}

func (c *Client) ack(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.unacked) > 0 && c.unacked[0].Seq <= seq {
		c.queued -= len(c.unacked[0].Alerts)
		c.unacked = c.unacked[1:]
	}
}

// drain waits, up to timeout, until every alert sent so far is
// acknowledged.
func (c *Client) drain(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := c.queued
		c.pokeLocked()
		c.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
