package store

import (
	"os"
	"path/filepath"
	"testing"

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
