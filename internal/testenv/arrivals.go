package testenv

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Arrivals records when each message (by id) reached its receiver, for
// latency benchmarks. Safe for concurrent use.
type Arrivals struct {
	mu sync.Mutex
	at map[string]time.Time
}

// Arrived records that id arrived now.
func (a *Arrivals) Arrived(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at == nil {
		a.at = map[string]time.Time{}
	}
	a.at[id] = time.Now()
}

func (a *Arrivals) has(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.at[id]
	return ok
}

// Within says whether id arrives within d.
func (a *Arrivals) Within(id string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if a.has(id) {
			return true
		}
	}
	return false
}

// Latencies waits (30 s at most) until every id of sent has arrived and
// returns each one's latency from its time in sent, sorted.
func (a *Arrivals) Latencies(tb testing.TB, sent map[string]time.Time) []time.Duration {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n := 0
		for id := range sent {
			if a.has(id) {
				n++
			}
		}
		if n == len(sent) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d arrived", n, len(sent))
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]time.Duration, 0, len(sent))
	for id, t := range sent {
		out = append(out, a.at[id].Sub(t))
	}
	slices.Sort(out)
	return out
}
