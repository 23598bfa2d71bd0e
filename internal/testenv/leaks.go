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
func LeakCheck(t testing.TB) (check func()) {
	opts := []goleak.Option{goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*http2ClientConn).readLoop"),
		goleak.IgnoreAnyFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
	}
	return func() {
		t.Helper()
		if err := goleak.Find(opts...); err != nil {
			t.Errorf("goroutines left behind: %v", err)
		}
	}
}
