package output

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/internal/testenv"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// TestReceipt: a receipt is done once every sink that took its alerts has
// sent them; a sink whose priority filters an alert out, or whose full
// queue drops it, is not waited for.
func TestReceipt(t *testing.T) {
	slow := &blocking{release: make(chan struct{})}
	var errs testenv.Buffer
	o := New(Format{JSON: true}, []SinkConfig{
		{Sink: slow, MinPriority: rules.Debug, QueueSize: 1},
		{Sink: NewWriter("stdout", &errs), MinPriority: rules.Error},
	}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	r := NewReceipt()
	for range 3 { // one in Send, one queued, one dropped
		o.Deliver(testAlert(), r)
		waitFor(t, func() bool { return slow.entered.Load() == 1 })
	}
	r.Seal()
	select {
	case <-r.Done():
		t.Fatal("done while the slow sink holds two alerts")
	default:
	}
	close(slow.release)
	<-r.Done()
	if got := slow.got.Load(); got != 2 {
		t.Errorf("the slow sink sent %d alerts, want 2 (one dropped)", got)
	}
	empty := NewReceipt()
	empty.Seal()
	<-empty.Done()
}

// TestIDs: every alert published gets an id of its own, shaped as a
// UUID, and one that has an id (an agent's, through the stream) keeps it.
func TestIDs(t *testing.T) {
	o := New(Format{JSON: true}, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		a := testAlert()
		o.Publish(a)
		if !shape.MatchString(a.ID) || seen[a.ID] {
			t.Fatalf("id %q: not a UUID, or seen before", a.ID)
		}
		seen[a.ID] = true
	}
	other := New(Format{JSON: true}, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	a := testAlert()
	other.Publish(a)
	if seen[a.ID] {
		t.Errorf("two processes made the same id %s", a.ID)
	}
	a = testAlert()
	a.ID = "from-the-agent"
	o.Publish(a)
	if a.ID != "from-the-agent" {
		t.Errorf("id %q replaced", a.ID)
	}
}

// countingWriter counts the writes it is given and the lines in them.
type countingWriter struct {
	mu            sync.Mutex
	writes, lines int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	c.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func (c *countingWriter) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.lines
}

// TestBatchedWrites: alerts queued together reach stdout in a few large
// writes, and a receipt is done only once its alerts are written, not
// buffered.
func TestBatchedWrites(t *testing.T) {
	w := &countingWriter{}
	o := New(Format{JSON: true}, []SinkConfig{{Sink: NewWriter("stdout", w), MinPriority: rules.Debug, QueueSize: 2000}},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := NewReceipt()
	for range 1000 {
		o.Deliver(testAlert(), r)
	}
	r.Seal()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Start(ctx); close(done) }()
	<-r.Done()
	writes, lines := w.counts()
	if lines != 1000 || writes > 20 {
		t.Errorf("receipt done with %d lines written in %d writes, want 1000 in at most 20", lines, writes)
	}
	o.Publish(testAlert()) // alone in the queue: written at once, not held in the buffer
	waitFor(t, func() bool { _, l := w.counts(); return l == 1001 })
	cancel()
	<-done
}
