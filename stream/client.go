package stream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"

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
	// What the service sends. They are called one at a time, on the
	// goroutine that reads the stream: a slow one holds up the next.
	OnAnnounce func(session.Announcement)
	OnConfirm  func(session.Confirmation)
	OnPods     func([]runtime.PodInfo)
}

// Client is an agent's stream to the service, and the output sink that
// feeds it alerts. It reconnects with backoff and keeps unacknowledged
// alerts meanwhile.
type Client struct {
	opts ClientOptions
	http *http.Client

	mu      sync.Mutex
	open    []Alert  // not yet in a batch
	unacked []Alerts // sent or to send, oldest first
	queued  int      // alerts in open and unacked
	seq     uint64
	wake    chan struct{}

	connected           prometheus.Gauge
	dropped, reconnects prometheus.Counter
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
	c := &Client{opts: o, http: &http.Client{Transport: tr}, wake: make(chan struct{}, 1),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "peregrine_stream_connected",
			Help: "1 while the agent's stream to the service is up."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_alerts_dropped_total",
			Help: "Alerts dropped because the service was away longer than the buffer lasts."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_stream_reconnects_total",
			Help: "Times the agent's stream to the service was (re)established."}),
	}
	reg.MustRegister(c.connected, c.dropped, c.reconnects)
	return c
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
			c.unacked = c.unacked[1:]
		} else {
			c.open = c.open[1:]
		}
		c.queued -= n
		c.dropped.Add(float64(n))
	}
	c.mu.Unlock()
	if full {
		c.poke()
	}
	return nil
}

const (
	maxBatch   = 256
	batchEvery = 50 * time.Millisecond
)

func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Start streams until ctx ends, reconnecting with exponential backoff
// (1 s to 30 s) while the service is away; then, for up to DrainFor, it
// goes on until the service has acknowledged every alert sent so far.
func (c *Client) Start(ctx context.Context) {
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.reconnect(runCtx) })
	<-ctx.Done()
	c.drain(c.opts.DrainFor)
	stop()
}

// reconnect keeps a session up until ctx ends.
func (c *Client) reconnect(ctx context.Context) {
	backoff := reconnectBackoff()
	for {
		start := time.Now()
		err := c.connect(ctx)
		c.connected.Set(0)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = reconnectBackoff() // it was up a while: start over
		}
		in := backoff.Step()
		c.opts.Log.Warn("stream to the service down; retrying", "err", err, "in", in)
		select {
		case <-ctx.Done():
			return
		case <-time.After(in):
		}
	}
}

// reconnectBackoff waits 1 s, then twice as long each time, up to 30 s;
// the jitter spreads out a thousand agents whose service restarted.
func reconnectBackoff() wait.Backoff {
	return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Cap: 30 * time.Second, Steps: math.MaxInt32}
}

// connect runs one connection until it fails or ctx ends.
func (c *Client) connect(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-peregrine-stream")
	if c.opts.Token != nil {
		tok, err := c.opts.Token()
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- c.writeLoop(ctx, pw) }()
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("service answered %s: %s", resp.Status, b)
	}
	c.connected.Set(1)
	c.reconnects.Inc()
	readErr := c.readLoop(bufio.NewReader(resp.Body))
	cancel()
	pw.CloseWithError(context.Canceled)
	if werr := <-writeErr; readErr == nil || errors.Is(readErr, context.Canceled) {
		return werr
	}
	return readErr
}

// writeLoop says hello, then sends every batch not yet acknowledged
// (again, after a reconnect) and the new ones as they form.
func (c *Client) writeLoop(ctx context.Context, w *io.PipeWriter) error {
	defer w.Close()
	if err := WriteFrame(w, KindHello, Hello{Node: c.opts.Node, Hostname: c.opts.Hostname}); err != nil {
		return err
	}
	tick := time.NewTicker(batchEvery)
	defer tick.Stop()
	var sent uint64 // the last seq written on this connection
	for {
		c.mu.Lock()
		if len(c.open) > 0 {
			c.cutLocked()
		}
		var todo []Alerts
		for _, b := range c.unacked {
			if b.Seq > sent {
				todo = append(todo, b)
			}
		}
		c.mu.Unlock()
		for _, b := range todo {
			if err := WriteFrame(w, KindAlerts, b); err != nil {
				return err
			}
			sent = b.Seq
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-c.wake:
		}
	}
}

// cutLocked closes the open batch, keeping it until acknowledged.
func (c *Client) cutLocked() {
	c.seq++
	c.unacked = append(c.unacked, Alerts{Seq: c.seq, Alerts: c.open})
	c.open = nil
}

func (c *Client) ack(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.unacked) > 0 && c.unacked[0].Seq <= seq {
		c.queued -= len(c.unacked[0].Alerts)
		c.unacked = c.unacked[1:]
	}
}

// readLoop takes what the service sends until the stream ends.
func (c *Client) readLoop(r io.Reader) error {
	for {
		kind, payload, err := ReadFrame(r)
		if err != nil {
			return err
		}
		if err := c.dispatch(kind, payload); err != nil {
			return err
		}
	}
}

func (c *Client) dispatch(kind byte, payload []byte) error {
	switch kind {
	case KindAck:
		var a ack
		if err := decode(kind, payload, &a); err != nil {
			return err
		}
		c.ack(a.Seq)
	case KindAnnounce:
		var a session.Announcement
		if err := decode(kind, payload, &a); err != nil {
			return err
		}
		if c.opts.OnAnnounce != nil {
			c.opts.OnAnnounce(a)
		}
	case KindConfirm:
		var cf session.Confirmation
		if err := decode(kind, payload, &cf); err != nil {
			return err
		}
		if c.opts.OnConfirm != nil {
			c.opts.OnConfirm(cf)
		}
	case KindPods:
		var p Pods
		if err := decode(kind, payload, &p); err != nil {
			return err
		}
		if c.opts.OnPods != nil {
			c.opts.OnPods(p.Containers)
		}
	}
	return nil
}

// drain waits, up to timeout, until every alert sent so far is
// acknowledged.
func (c *Client) drain(timeout time.Duration) {
	c.poke()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := c.queued
		c.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
