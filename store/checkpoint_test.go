package store

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/output"
)

// The checkpointer keeps the write-ahead log short while the writer never
// pauses, and what is written is in the database file itself.
func TestCheckpointsBoundTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(Options{Path: path, Log: slog.New(slog.DiscardHandler), Format: output.DefaultFormat()})
	if err != nil {
		t.Fatal(err)
	}
	s.rows, s.frames = 512, 256 // 1 MiB of log
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()
	const n = 64 * 1024
	for i := range n {
		send(s, alertN(i))
		if i%256 == 255 {
			for s.Flush(); len(s.batches) == cap(s.batches); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	waitWritten(t, s, n)
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	db, _ := os.Stat(path)
	// Bound: at most 4 passes' worth of alerts (2,048) plus the
	// transaction that crosses it (at most 8,192 alerts, ~6 MiB of log),
	// however far behind the checkpointer is; unbounded, it is ~45 MiB.
	if wal.Size() > 16<<20 {
		t.Errorf("the log is %d MiB after %d alerts; want it started over past 1 MiB", wal.Size()>>20, n)
	}
	if s.passes.Load() == 0 {
		t.Error("the checkpointer made no pass")
	}
	if db.Size() < 16<<20 {
		t.Errorf("the database file is %d KiB after %d alerts: not checkpointed", db.Size()>>10, n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
