package stream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/peregrine-sec/peregrine/session"
)

// link is the client's stream to one replica. Its fields but url, c and
// wake are guarded by the client's lock.
type link struct {
	c       *Client
	url     string
	learned bool // from a replica's Peers, not configured: forgotten when it stays unreachable
	wake    chan struct{}

	up      bool
	sent    uint64 // the last batch written on the current connection
	replica string // what the replica says it is
}

// errSecondLink ends a link to a replica another link already reaches.
var errSecondLink = errors.New("a replica already linked under another URL")

func (l *link) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// forgetAfter is how long a learned link may fail to reach its replica
// before it is dropped: the replica is gone (a pod's IP is not reused for
// it); a replica still there names it again in its next Peers.
const forgetAfter = 2 * time.Minute

// run keeps the link up until ctx ends. A link refused as a second one
// to its replica keeps trying, with the backoff growing to 30 s: the link
// that reaches that replica may go, and then this one is wanted.
func (l *link) run(ctx context.Context) {
	backoff := reconnectBackoff()
	alive := time.Now() // when the replica last answered
	for {
		start := time.Now()
		wasUp, err := l.connect(ctx)
		if ctx.Err() != nil {
			return
		}
		if wasUp || errors.Is(err, errSecondLink) {
			alive = time.Now()
		} else if l.learned && time.Since(alive) > forgetAfter {
			l.c.forget(l)
			l.c.opts.Log.Info("replica unreachable; link dropped", "url", l.url, "err", err)
			return
		}
		if time.Since(start) > time.Minute {
			backoff = reconnectBackoff() // it was up a while: start over
		}
		in := backoff.Step()
		if errors.Is(err, errSecondLink) { // expected: the replica is reached already
			l.c.opts.Log.Debug("second link to a replica refused; retrying", "url", l.url, "in", in)
		} else {
			l.c.opts.Log.Warn("stream to the service down; retrying", "url", l.url, "err", err, "in", in)
		}
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

// connect runs one connection until it fails or ctx ends; up says
// whether the replica took it.
func (l *link) connect(ctx context.Context) (up bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	req, err := l.request(ctx, pr)
	if err != nil {
		return false, err
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- l.writeLoop(ctx, pw) }()
	resp, err := l.c.http.Do(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		err = fmt.Errorf("service answered %s: %s", resp.Status, b)
		if resp.StatusCode == http.StatusConflict {
			err = fmt.Errorf("%w: %w", errSecondLink, err)
		}
	}
	if err != nil {
		cancel()
		pr.CloseWithError(err) // the hello may wait for a reader
		<-writeErr
		return false, err
	}
	defer resp.Body.Close()
	l.c.up(l)
	readErr := l.readLoop(bufio.NewReader(resp.Body))
	l.c.down(l)
	cancel()
	pw.CloseWithError(context.Canceled)
	if werr := <-writeErr; readErr == nil || errors.Is(readErr, context.Canceled) {
		return true, werr
	}
	return true, readErr
}

// request is the stream's POST, with the token read now: a projected
// ServiceAccount token is renewed by the kubelet.
func (l *link) request(ctx context.Context, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-peregrine-stream")
	if l.c.opts.Token != nil {
		tok, err := l.c.opts.Token()
		if err != nil {
			return nil, fmt.Errorf("read token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// writeLoop says hello, then, while the link is the primary, sends every
// batch not yet acknowledged (again, after a reconnect or when it became
// the primary) and the new ones as they form.
func (l *link) writeLoop(ctx context.Context, w *io.PipeWriter) error {
	defer w.Close()
	o := l.c.opts
	hello := Hello{Node: o.Node, Hostname: o.Hostname, Instance: l.c.instance, Linked: l.c.linkedBesides(l)}
	if err := l.c.codec.write(w, KindHello, hello); err != nil {
		return err
	}
	tick := time.NewTicker(batchEvery)
	defer tick.Stop()
	for {
		for _, b := range l.c.pending(l) {
			if err := l.c.codec.write(w, KindAlerts, b); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-l.wake:
		}
	}
}

// readLoop takes what the replica sends until the stream ends.
func (l *link) readLoop(r io.Reader) error {
	for {
		kind, payload, err := l.c.codec.read(r)
		if err != nil {
			return err
		}
		if err := l.dispatch(kind, payload); err != nil {
			return err
		}
	}
}

func (l *link) dispatch(kind byte, payload []byte) error {
	o := l.c.opts
	switch kind {
	case KindAck:
		var a ack
		if err := decode(kind, payload, &a); err != nil {
			return err
		}
		l.c.ack(a.Seq)
	case KindPeers:
		var p Peers
		if err := decode(kind, payload, &p); err != nil {
			return err
		}
		if !l.c.learn(l, p) {
			return errSecondLink
		}
	case KindAnnounce:
		return deliver(kind, payload, o.OnAnnounce)
	case KindConfirm:
		return deliver(kind, payload, o.OnConfirm)
	case KindPods:
		var p Pods
		if err := decode(kind, payload, &p); err != nil {
			return err
		}
		if o.OnPods != nil {
			o.OnPods(p.Containers)
		}
	}
	return nil
}

// deliver decodes a message for a callback, when there is one.
func deliver[T session.Announcement | session.Confirmation](kind byte, payload []byte, fn func(T)) error {
	var v T
	if err := decode(kind, payload, &v); err != nil {
		return err
	}
	if fn != nil {
		fn(v)
	}
	return nil
}
