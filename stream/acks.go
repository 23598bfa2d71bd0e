package stream

import (
	"context"
	"time"

	"github.com/peregrine-sec/peregrine/output"
)

// ackWindow bounds the batches of a stream published but not yet
// delivered: past it the hub stops reading, and the agent, whose writes
// then block, keeps what it has in its bounded buffer.
const ackWindow = 64

// pendingAck is a batch to acknowledge once its receipt is done, or at
// deadline (output.AckWait after it was published).
type pendingAck struct {
	seq      uint64
	receipt  *output.Receipt
	deadline time.Time
}

// publish publishes a batch the first time a replica sees it, and returns
// the receipt its acknowledgement waits for. An agent sends its
// unacknowledged batches again after a reconnect, and the acknowledgement
// of one may have been lost: then it waits for the last batch published,
// as outputs deliver in order.
func (h *Hub) publish(c *agentConn, batch Alerts) *output.Receipt {
	r := output.NewReceipt()
	if last, first := h.firstTime(c, batch.Seq, r); !first {
		h.duplicates.Add(float64(len(batch.Alerts)))
		r.Seal()
		return last
	}
	for i := range batch.Alerts {
		h.o.Publish(batch.Alerts[i].alert(), r)
	}
	if h.o.Bind != nil {
		for _, b := range batch.Bindings {
			h.o.Bind(b)
		}
	}
	r.Seal()
	h.alerts.Add(float64(len(batch.Alerts)))
	return r
}

// firstTime records that c's batch seq is published with receipt r,
// unless it was already; then it returns the receipt of the last one.
func (h *Hub) firstTime(c *agentConn, seq uint64, r *output.Receipt) (*output.Receipt, bool) {
	if c.instance == "" {
		return nil, true // an agent that does not say who it is: no way to know
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	last := h.seen[c.node]
	if last.instance == c.instance && seq <= last.seq {
		return last.receipt, false
	}
	h.seen[c.node] = published{c.instance, seq, r}
	return nil, true
}

// ackLoop acknowledges batches in order, each once its alerts are
// delivered, until readLoop closes acks or the stream ends.
func (h *Hub) ackLoop(ctx context.Context, c *agentConn, acks <-chan pendingAck) {
	for p := range acks {
		delivered, err := p.receipt.Wait(ctx, p.deadline)
		if err != nil {
			return
		}
		if !delivered {
			h.undelivered.Inc()
		}
		if !c.send(frame{KindAck, ack{Seq: p.seq}}) {
			c.end() // not reading its stream: end it, and the reader with it
			return
		}
	}
}
