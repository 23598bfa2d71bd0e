package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/runtime"
	"github.com/peregrine-sec/peregrine/session"
)

// PodSource gives the containers of a node, and a version of them that
// changes whenever they may have.
type PodSource interface {
	NodeVersion(node string) uint64
	Node(node string) []runtime.PodInfo
}

// Hub is the service's side: one connection per node. Safe for concurrent
// use.
type Hub struct {
	o     HubOptions
	codec codec

	mu           sync.Mutex
	agents       map[string]*agentConn
	seen         map[string]published // by node: the last batch published
	peers        []string             // as o.Peers, then SetPeers
	peersVersion uint64
	closed       bool

	connected          prometheus.Gauge
	alerts, duplicates prometheus.Counter
	undelivered        prometheus.Counter
	lost               *prometheus.CounterVec
}

// HubOptions configure a Hub.
type HubOptions struct {
	// Publish is called on the goroutine that reads each agent's stream,
	// so concurrently for several agents. A batch is acknowledged once its
	// receipt is done: an output that holds it (output.Outputs.Deliver)
	// makes the agent keep the batch until it is delivered.
	Publish func(*output.Alert, *output.Receipt)
	// Bind is given the exec sessions agents bound (nil: not wanted); on
	// the goroutine that reads the agent's stream, like Publish.
	Bind func(session.Binding)
	Pods PodSource // nil: no cluster
	// Replica names this replica; Peers are the other replicas'
	// agent-stream URLs. Agents learn both from every stream's first
	// frames, link to every replica, and drop a second link to one.
	Replica string
	Peers   []string
	Log     *slog.Logger
}

// published is the last batch of an agent process that was published.
type published struct {
	instance string
	seq      uint64
	receipt  *output.Receipt
}

// agentConn is one agent's stream; out carries frames to write until done
// is closed (the stream ended or a reconnect replaced it). out is never
// closed: senders may still hold the connection.
type agentConn struct {
	node     string
	instance string
	out      chan frame
	done     chan struct{}
	ended    sync.Once
	// stopReading ends the read side, as an agent that hangs up does: what
	// it sent is acknowledged once delivered, then the stream ends.
	stopReading func()
}

// end closes done, once.
func (c *agentConn) end() { c.ended.Do(func() { close(c.done) }) }

// connQueue bounds the frames waiting for an agent's stream: acks,
// announcements and confirmations, which its writer sends as they come.
// Each connection holds one: at 1,000 agents, 4,096 cost ~100 MB a
// replica; 256 keep what a stream that is alive ever has in flight.
const connQueue = 256

type frame struct {
	kind byte
	v    any
}

// NewHub publishes the alerts agents send and routes sessions to them.
func NewHub(o HubOptions, reg prometheus.Registerer) *Hub {
	h := &Hub{o: o, agents: map[string]*agentConn{}, seen: map[string]published{}, peers: o.Peers, peersVersion: 1,
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "peregrine_agents_connected", Help: "Node agents streaming to this service."}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_agent_alerts_total",
			Help: "Alerts received from node agents."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_agent_alerts_duplicate_total",
			Help: "Alerts an agent sent again (after a reconnect) that this replica had published already: dropped."}),
		undelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_agent_batches_acked_undelivered_total",
			Help: "Agent batches acknowledged before every output had delivered them: an output slower than 2 s."}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peregrine_agent_messages_lost_total",
			Help: "Messages for agents that could not be delivered: no agent for the node, or its stream too slow."}, []string{"kind"}),
	}
	reg.MustRegister(h.connected, h.alerts, h.duplicates, h.undelivered, h.lost)
	return h
}

// SetPeers replaces the other replicas' URLs (found in the cluster, as
// they come and go); every stream is told within a second.
func (h *Hub) SetPeers(urls []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Equal(h.peers, urls) {
		h.peers = slices.Clone(urls)
		h.peersVersion++
	}
}

// peersFrame is the Peers message when it changed since *version.
func (h *Hub) peersFrame(version *uint64) (frame, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if *version == h.peersVersion {
		return frame{}, false
	}
	*version = h.peersVersion
	return frame{KindPeers, Peers{Replica: h.o.Replica, URLs: h.peers}}, true
}

// Close ends every stream and refuses new ones (the service is stopping).
// Each stream stops reading, acknowledges what its outputs delivered, and
// ends; agents send what was not acknowledged to another replica.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for node, c := range h.agents {
		c.stopReading()
		delete(h.agents, node)
		h.connected.Dec()
	}
}

// Announce sends an exec to the agent of its node; false when that agent
// is not connected.
func (h *Hub) Announce(a session.Announcement) bool {
	h.mu.Lock()
	c := h.agents[a.Node]
	h.mu.Unlock()
	if c == nil || !c.send(frame{KindAnnounce, a}) {
		h.lost.WithLabelValues("announce").Inc()
		return false
	}
	return true
}

// Confirm sends an exec's audit ID to every agent: only the one holding
// the session uses it.
func (h *Hub) Confirm(c session.Confirmation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.agents {
		if !a.send(frame{KindConfirm, c}) {
			h.lost.WithLabelValues("confirm").Inc()
		}
	}
}

// send queues a frame without blocking the caller (the webhook answers
// the apiserver meanwhile).
func (c *agentConn) send(f frame) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- f:
		return true
	default:
		return false
	}
}

// ServeHTTP runs one agent's stream until either side ends it. The caller
// has authenticated the request.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/1.1: read the body while writing; HTTP/2 does so anyway
	body := bufio.NewReader(r.Body)
	hello, err := h.readHello(body)
	if err != nil {
		http.Error(w, "stream: "+err.Error(), http.StatusBadRequest)
		return
	}
	if h.o.Replica != "" && slices.Contains(hello.Linked, h.o.Replica) {
		http.Error(w, "stream: this agent reaches replica "+h.o.Replica+" on another link", http.StatusConflict)
		return
	}
	if bound := boundNode(r.Context()); bound != "" && hello.Node != bound {
		http.Error(w, fmt.Sprintf("stream: this agent's credential is for node %q, not %q", bound, hello.Node), http.StatusForbidden)
		return
	}
	c := &agentConn{node: hello.Node, instance: hello.Instance, out: make(chan frame, connQueue), done: make(chan struct{}),
		stopReading: func() { _ = rc.SetReadDeadline(time.Now()) }}
	if !h.attach(c) {
		http.Error(w, "stream: the service is stopping", http.StatusServiceUnavailable)
		return
	}
	defer h.detach(c)
	w.Header().Set("Content-Type", "application/x-peregrine-stream")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	readDone, writeDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(writeDone)
		h.writeLoop(ctx, readDone, w, rc, c)
		_ = rc.SetReadDeadline(time.Now()) // and the read side stops too
	}()
	acks, acked := make(chan pendingAck, ackWindow), make(chan struct{})
	go func() {
		defer close(acked)
		h.ackLoop(ctx, c, acks)
	}()
	h.o.Log.Info("agent connected", "node", hello.Node, "hostname", hello.Hostname)
	err = h.readLoop(ctx, body, c, acks)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		h.o.Log.Warn("agent stream ended", "node", hello.Node, "err", err)
	}
	close(acks)
	<-acked // the last acks are queued
	close(readDone)
	<-writeDone // the response is written by the handler's time only
}

// readHello reads the frame a stream must start with.
func (h *Hub) readHello(body *bufio.Reader) (Hello, error) {
	var hello Hello
	kind, payload, err := h.codec.read(body)
	if err == nil && kind != KindHello {
		err = errors.New("the first frame must be a hello")
	}
	if err == nil {
		err = decode(kind, payload, &hello)
	}
	if err == nil && hello.Node == "" {
		err = errors.New("hello without a node name")
	}
	return hello, err
}

func (h *Hub) attach(c *agentConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	if old := h.agents[c.node]; old != nil {
		old.end() // a reconnect replaces the stale stream
	} else {
		h.connected.Inc()
	}
	h.agents[c.node] = c
	return true
}

func (h *Hub) detach(c *agentConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.agents[c.node] == c {
		delete(h.agents, c.node)
		h.connected.Dec()
	}
	c.end()
}

// readLoop publishes alert batches and hands them to ackLoop.
func (h *Hub) readLoop(ctx context.Context, body io.Reader, c *agentConn, acks chan<- pendingAck) error {
	for {
		kind, payload, err := h.codec.read(body)
		if err != nil {
			return err
		}
		if kind != KindAlerts {
			continue // newer agents may say more
		}
		var batch Alerts
		if err := decode(kind, payload, &batch); err != nil {
			return err
		}
		select {
		case acks <- pendingAck{batch.Seq, h.publish(c, batch), time.Now().Add(output.AckWait)}:
		case <-c.done:
			return errors.New("agent not reading its stream")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeLoop writes queued frames, the replicas and the node's pods (at once, then when
// they changed: checked every second and before each announcement), until
// the stream ends; when the agent has stopped sending
// (readDone), what is queued (the last acks) is written first.
func (h *Hub) writeLoop(ctx context.Context, readDone <-chan struct{}, w io.Writer, rc *http.ResponseController, c *agentConn) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var podsVersion, peersVersion uint64
	wrote := false // since the last tick
	write := func(f frame) bool {
		wrote = true
		return h.codec.write(w, f.kind, f.v) == nil && rc.Flush() == nil
	}
	changed := func() bool { // the replicas, then the node's containers, when they changed
		if f, ok := h.peersFrame(&peersVersion); ok && !write(f) {
			return false
		}
		f, ok := h.podsFrame(c.node, &podsVersion)
		return !ok || write(f)
	}
	if !changed() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case f := <-c.out:
			// An announcement never overtakes the pod it is about: the
			// agent describes the container when the process starts.
			if f.kind == KindAnnounce && !changed() {
				return
			}
			if !write(f) {
				return
			}
		case <-readDone:
			writeQueued(c, write)
			return
		case <-tick.C:
			if !changed() {
				return
			}
			// A second without a frame: write an empty ack (seq 0
			// acknowledges nothing), so that a write fails soon after the
			// agent is gone and the stream ends here too, instead of
			// taking announcements for a dead link.
			if !wrote && !write(frame{KindAck, ack{}}) {
				return
			}
			wrote = false
		}
	}
}

// writeQueued writes what is queued for c (the last acks), until a write
// fails.
func writeQueued(c *agentConn, write func(frame) bool) {
	for {
		select {
		case f := <-c.out:
			if !write(f) {
				return
			}
		default:
			return
		}
	}
}

// podsFrame is the node's containers when they changed since *version.
func (h *Hub) podsFrame(node string, version *uint64) (frame, bool) {
	if h.o.Pods == nil {
		return frame{}, false
	}
	v := h.o.Pods.NodeVersion(node)
	if v == *version {
		return frame{}, false
	}
	*version = v
	return frame{KindPods, Pods{Containers: h.o.Pods.Node(node)}}, true
}

type nodeKey struct{}

// WithNode says that the request's credential is bound to node (a
// pod-bound ServiceAccount token): the hub then serves it as that node's
// agent only, whatever its hello says. "" binds nothing.
func WithNode(ctx context.Context, node string) context.Context {
	if node == "" {
		return ctx
	}
	return context.WithValue(ctx, nodeKey{}, node)
}

func boundNode(ctx context.Context) string {
	n, _ := ctx.Value(nodeKey{}).(string)
	return n
}
