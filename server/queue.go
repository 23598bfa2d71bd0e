package server

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/peregrine-sec/peregrine/output"
)

// queue holds batches of items up to a capacity counted in items. A batch
// is accepted whole or refused whole, so an apiserver that retries a
// refused batch never makes duplicates.
type queue[T any] struct {
	capacity int64
	pending  atomic.Int64
	ch       chan batch[T]
	mu       sync.RWMutex // guards closing ch against concurrent puts
	closed   bool
}

func newQueue[T any](capacity int) *queue[T] {
	// Every batch holds at least one item, so capacity batches always fit.
	return &queue[T]{capacity: int64(capacity), ch: make(chan batch[T], capacity)}
}

// batch is what one request brought, and the receipt its answer waits for.
type batch[T any] struct {
	items   []T
	receipt *output.Receipt
	done    func() // called once the items are evaluated (nil: nothing to do)
}

// Why a batch was refused.
var (
	errFull   = errors.New("evaluation queue full: retry later")
	errClosed = errors.New("shutting down: retry on another replica or later")
)

// put enqueues the batch whole, or says why it cannot.
func (q *queue[T]) put(b batch[T]) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return errClosed
	}
	n := int64(len(b.items))
	for {
		cur := q.pending.Load()
		if cur+n > q.capacity {
			return errFull
		}
		if q.pending.CompareAndSwap(cur, cur+n) {
			break
		}
	}
	q.ch <- b
	return nil
}

// take returns the next batch; false once the queue is closed and empty.
func (q *queue[T]) take() (batch[T], bool) {
	b, ok := <-q.ch
	if ok {
		q.pending.Add(-int64(len(b.items)))
	}
	return b, ok
}

// close stops accepting; what is queued can still be taken.
func (q *queue[T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

func (q *queue[T]) len() int64 { return q.pending.Load() }
