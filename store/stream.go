package store

import (
	"encoding/json"
	"strings"
	"sync"
)

// Subscription receives the alerts a query selects as they are stored
// (GET /api/v1/stream), until Close.
type Subscription struct {
	C       <-chan json.RawMessage
	ch      chan json.RawMessage
	q       Query // its Text lowered, for containsFold
	s       *Store
	dropped int
}

// subscriptionBuffer is how many alerts a subscriber may fall behind by;
// past it, alerts are not sent to it (counted).
const subscriptionBuffer = 1024

type subscribers struct {
	mu  sync.Mutex
	set map[*Subscription]struct{}
}

// Subscribe starts a subscription to the alerts q selects (its cursor and
// limit do not apply).
func (s *Store) Subscribe(q Query) *Subscription {
	q.Text = strings.ToLower(q.Text)
	sub := &Subscription{ch: make(chan json.RawMessage, subscriptionBuffer), q: q, s: s}
	sub.C = sub.ch
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	if s.subs.set == nil {
		s.subs.set = map[*Subscription]struct{}{}
	}
	s.subs.set[sub] = struct{}{}
	return sub
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.s.subs.mu.Lock()
	defer sub.s.subs.mu.Unlock()
	delete(sub.s.subs.set, sub)
}

// publish hands stored rows to the subscriptions that select them,
// without waiting for any: a subscriber that fell behind misses them, and
// they are counted.
func (s *Store) publish(rows []row) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	for sub := range s.subs.set {
		for i := range rows {
			if !sub.q.matches(&rows[i]) {
				continue
			}
			select {
			case sub.ch <- json.RawMessage(rows[i].json):
			default:
				sub.dropped++
				s.metrics.streamDropped.Inc()
			}
		}
	}
}

// matches is the query's WHERE clause (where) for one row; q.Text is
// lowered already (Subscribe).
func (q Query) matches(r *row) bool {
	eq := func(want, got string) bool { return want == "" || want == got }
	switch {
	case !q.Since.IsZero() && r.time < q.Since.UnixNano(), !q.Until.IsZero() && r.time > q.Until.UnixNano():
		return false
	case !eq(q.Source, r.source) || !eq(q.Rule, r.rule) || !eq(q.Namespace, r.namespace) || !eq(q.Pod, r.pod) || !eq(q.Session, r.session):
		return false
	case q.Priority != nil && r.priority > int(*q.Priority):
		return false
	case q.User != "" && q.User != r.user && q.User != r.execUser:
		return false
	}
	return q.Text == "" || containsFold(r.output, q.Text)
}

// subscribed says whether anyone is subscribed.
func (s *Store) subscribed() bool {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	return len(s.subs.set) > 0
}
