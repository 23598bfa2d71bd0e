package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/pgtest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // as main does: no debug banner in test output
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// serving builds a service from o (with quiet defaults for what o leaves
// unset) and serves it until stop, which the end of the test calls too.
func serving(t testing.TB, o Options) (s *Service, stop func()) {
	t.Helper()
	if o.Hostname == "" {
		o.Hostname = "test"
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Config.Store.Path == config.Default().Store.Path { // not the package's directory
		o.Config.Store.Path = filepath.Join(t.TempDir(), "peregrine.db")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, o)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(stop)
	return s, stop
}
