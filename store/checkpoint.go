package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// SQLite appends each commit to its write-ahead log; a checkpoint copies
// the log back into the database file and syncs the file. Left to the
// writer (SQLite's default, after the commit that fills the log), the
// sync stalls it: a quarter of its time at 50k alerts/s. The checkpointer
// copies and syncs on its own connection while the writer goes on
// (PASSIVE), each time the writer has written checkpointRows alerts: as
// often as SQLite's own would (a pass copies the pages changed since the
// last, and the same index pages change all the time, so passes on a
// timer wrote them again and again).
//
// The log starts over from its beginning only once all of it has been
// copied, which a writer that never pauses leaves no time for (SQLite's
// busy handler does not queue: a checkpoint waiting for the writer to
// pause waits in vain). So past restartFrames the writer itself
// checkpoints between two transactions (RESTART), which copies and syncs
// only what came since the checkpointer's last pass; and at the latest
// every restartPasses passes' worth of alerts, should the checkpointer
// fall behind (a slow disk, a busy machine), so that the log stays
// bounded whatever it does. SQLite refuses a checkpoint while another
// runs, so once a restart is due the checkpointer starts no pass, and the
// writer restarts after the next transaction that finds none running.
const (
	checkpointRows = 16_384
	restartFrames  = 20_000 // pages in the log: 80 MiB of 4 KiB pages
	restartPasses  = 4
)

// checkpointing is the checkpointer's state, and its bounds (which tests
// make smaller).
type checkpointing struct {
	checkpoint chan struct{} // a pass asked for; nil on PostgreSQL
	unchecked  int           // alerts written since the last pass
	unstarted  int           // alerts written since the log started over
	walFrames  atomic.Int64  // the log's length at the last pass
	passes     atomic.Int64  // passes made (tests)
	passing    sync.Mutex    // held by a pass, and by the writer's restart
	restartDue atomic.Bool   // the writer is to restart the log: no new pass
	rows       int           // checkpointRows
	frames     int64         // restartFrames
}

// checkpoints checkpoints the log each time the writer asks, until ctx
// ends, then closes its connection.
func (s *Store) checkpoints(ctx context.Context, c *sql.Conn) {
	defer c.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.checkpoint:
		}
		if s.restartDue.Load() {
			continue // the writer's restart copies what this pass would
		}
		s.passing.Lock()
		var busy, frames, copied int64
		err := c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
		s.passing.Unlock()
		if err != nil && ctx.Err() == nil {
			s.cleanupFailed(err)
		}
		s.walFrames.Store(frames)
		s.passes.Add(1)
	}
}

// checkpointAfter counts the n alerts just committed, asks for a
// checkpoint every checkpointRows of them, and has the writer start the
// log over once it is long.
func (s *Store) checkpointAfter(ctx context.Context, n int) {
	if s.checkpoint == nil {
		return // PostgreSQL
	}
	if s.unchecked += n; s.unchecked >= s.rows {
		s.unchecked = 0
		select {
		case s.checkpoint <- struct{}{}:
		default: // one is running
		}
	}
	if s.unstarted += n; s.walFrames.Load() <= s.frames && s.unstarted < restartPasses*s.rows {
		return
	}
	s.restartDue.Store(true)
	if !s.passing.TryLock() {
		return // a pass runs: after the next transaction
	}
	defer s.passing.Unlock()
	var busy, frames, copied int64
	err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
	if err != nil {
		s.cleanupFailed(err)
	}
	if err == nil && busy != 0 {
		return // a reader held it off: after the next transaction
	}
	s.walFrames.Store(0)
	s.unstarted = 0
	s.restartDue.Store(false)
}
