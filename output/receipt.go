package output

import (
	"context"
	"sync/atomic"
	"time"
)

// AckWait bounds how long an acknowledgement waits for the outputs: a
// stuck output (a webhook retrying) must not stop a replica from taking
// audit batches and agents' alerts, or from noticing an agent gone. What
// is acknowledged past it without being delivered is counted by the
// caller.
const AckWait = 2 * time.Second

// Receipt follows a group of alerts through the outputs: Done is closed
// once every output that took one of them has delivered it or given up
// on it (an alert an output's full queue dropped is counted there, not
// waited for). A service acknowledges what it received, an audit batch
// or an agent's alerts, only then: a replica killed before that has its
// sender send them again elsewhere.
type Receipt struct {
	pending atomic.Int64
	done    chan struct{}
}

// NewReceipt opens a receipt; Seal it once every alert is published.
func NewReceipt() *Receipt {
	r := &Receipt{done: make(chan struct{})}
	r.pending.Store(1) // the publisher's own hold, released by Seal
	return r
}

// Seal says that no more alerts will be published with r.
func (r *Receipt) Seal() { r.release() }

// Done is closed once r is sealed and its alerts are delivered.
func (r *Receipt) Done() <-chan struct{} { return r.done }

// Wait waits until r is done or deadline passes, and says whether r was
// done; it returns ctx's error when ctx ends first. Acknowledgements wait
// so, with deadline AckWait after the batch came.
func (r *Receipt) Wait(ctx context.Context, deadline time.Time) (bool, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-r.done:
		return true, nil
	case <-timer.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (r *Receipt) hold() {
	if r != nil {
		r.pending.Add(1)
	}
}

func (r *Receipt) release() {
	if r != nil && r.pending.Add(-1) == 0 {
		close(r.done)
	}
}
