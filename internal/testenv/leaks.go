package testenv

import (
	"testing"

	"go.uber.org/goleak"
)

// LeakCheck notes the goroutines running now; the check it returns fails
// the test if any other is still running when it is called (goleak retries
// for a while, so goroutines that are ending get the time to end).
//
// HTTP clients' pooled connections are not counted: an idle connection
// belongs to its transport's pool, which client-go shares process-wide by
// design; they are not the lifetimes the code under test owns.
//
// ignore names functions whose goroutines the test itself starts after the
// check began (its harness), which are not counted either.
func LeakCheck(t testing.TB, ignore ...string) (check func()) {
	opts := []goleak.Option{goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*http2ClientConn).readLoop"),
		goleak.IgnoreAnyFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
	}
	for _, fn := range ignore {
		opts = append(opts, goleak.IgnoreAnyFunction(fn))
	}
	return func() {
		t.Helper()
		if err := goleak.Find(opts...); err != nil {
			t.Errorf("goroutines left behind: %v", err)
		}
	}
}
