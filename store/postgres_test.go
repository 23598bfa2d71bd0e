package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// backend makes the options of a fresh, empty store.
type backend func(t testing.TB) Options

// eachBackend runs test against SQLite and against PostgreSQL (a real
// server, internal/pgtest): the store behaves the same on both.
func eachBackend(t *testing.T, test func(t *testing.T, fresh backend)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, func(tb testing.TB) Options { return Options{Path: filepath.Join(tb.TempDir(), "peregrine.db")} })
	})
	t.Run("postgres", func(t *testing.T) {
		pgtest.Server(t)
		test(t, func(tb testing.TB) Options { return Options{URL: pgtest.Database(tb)} })
	})
}

// Replicas that share a PostgreSQL history stream each other's alerts:
// every alert of either, once, on both, while both write at once (their
// ids interleave); a filter selects the other's alerts as it does its own.
func TestStreamAcrossReplicas(t *testing.T) {
	pgtest.Server(t)
	db := pgtest.Database(t)
	replicas := []*Store{open(t, Options{URL: db}), open(t, Options{URL: db})}
	for deadline := time.Now().Add(10 * time.Second); !replicas[0].listening.Load() || !replicas[1].listening.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replicas are not listening")
		}
	}
	const n = 2000 // each
	var everything, user8 []*Subscription
	for _, r := range replicas {
		everything, user8 = append(everything, r.Subscribe(Query{})), append(user8, r.Subscribe(Query{User: "user-8"}))
	}
	want, want8 := map[string]int{}, map[string]int{}
	for i := range 2 * n {
		a := alertN(i)
		want[a.ID]++
		if a.OutputFields["ka.user.name"] == "user-8" || a.OutputFields["k8s.exec.user"] == "user-8" {
			want8[a.ID]++
		}
	}
	if len(want8) != 20 {
		t.Fatalf("user-8 has %d alerts, want 20", len(want8))
	}
	got := make([]map[string]int, 4)
	var wg, read sync.WaitGroup
	for i := range replicas {
		read.Go(func() { got[2*i] = streamed(t, everything[i], len(want)) })
		read.Go(func() { got[2*i+1] = streamed(t, user8[i], len(want8)) })
	}
	for i, r := range replicas {
		wg.Go(func() {
			for j := range n {
				send(r, alertN(i*n+j))
				if j%100 == 99 { // a burst past a subscriber's buffer would drop
					r.Flush()
					waitWritten(t, r, j+1)
				}
			}
		})
	}
	wg.Wait()
	read.Wait()
	for i := range replicas {
		if diff := cmp.Diff(want, got[2*i]); diff != "" {
			t.Errorf("replica %d streamed (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(want8, got[2*i+1]); diff != "" {
			t.Errorf("replica %d streamed for user=user-8 (-want +got):\n%s", i, diff)
		}
	}
}

// streamed counts the uuids sub receives: until it has n alerts, then for
// a moment more (for any sent twice).
func streamed(t *testing.T, sub *Subscription, n int) map[string]int {
	t.Helper()
	got, total := map[string]int{}, 0
	for timeout := 10 * time.Second; ; {
		select {
		case item := <-sub.C:
			var a struct{ UUID string }
			if err := json.Unmarshal(item, &a); err != nil {
				t.Error(err)
			}
			got[a.UUID]++
			if total++; total == n {
				timeout = 200 * time.Millisecond
			}
		case <-time.After(timeout):
			return got
		}
	}
}
