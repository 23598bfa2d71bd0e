package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/peregrine-sec/peregrine/output"
)

// Options configure a store.
type Options struct {
	Path string // the SQLite database file
	// URL, when set, is a PostgreSQL database (postgres://...) that
	// replicas share, instead of the file.
	URL       string
	Retention time.Duration // alerts older are deleted; 0: kept
	// SessionWindow is how long an agent may take to bind an exec
	// session's process (exec_sessions.window): until then it is pending.
	SessionWindow time.Duration
	MaxSize       int64 // bytes the alerts may use; past it the oldest go; 0: no bound
	// Format is the outputs' format. Alerts are kept in it, as JSON: when
	// the outputs write JSON, the line they hand over is kept as it is.
	Format   output.Format
	Log      *slog.Logger
	Registry prometheus.Registerer
}

// Store is the alert history, in SQLite or PostgreSQL.
type Store struct {
	db *sql.DB
	d  *dialect
	// w is the one connection that writes. A connection keeps the pages
	// it has read in its cache until another one changes the database:
	// writes spread over the pool emptied every cache at every commit.
	w        *sql.Conn
	o        Options
	batches  chan []row
	sessions chan sessionOp
	pending  []row // the batch being gathered between two flushes
	// linesAreJSON: the outputs render alerts as the store keeps them, so
	// Send keeps the line it is given instead of rendering it again.
	linesAreJSON bool
	metrics      metrics
	subs         subscribers
	textScan     int // tests: a smaller bound than textScan
	checkpointing
	// replica names this process in its PostgreSQL rows and notifications
	// (see notify.go); "" on SQLite. listening: its listener is connected.
	replica   string
	listening atomic.Bool
}

type metrics struct {
	written, dropped, errors, streamDropped prometheus.Counter
}

// queueBatches bounds the batches waiting for the writer: each holds what
// the outputs gathered between two flushes (at most 256 alerts).
const queueBatches = 256

// Open opens (creating it if needed) the database at o.Path and brings its
// schema up to date.
func Open(o Options) (*Store, error) {
	linesAreJSON := o.Format.JSON
	o.Format.JSON = true
	db, d, where, err := openDB(o)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := migrate(db, d); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", where, err)
	}
	w, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", where, err)
	}
	s := &Store{db: db, d: d, w: w, o: o, linesAreJSON: linesAreJSON, batches: make(chan []row, queueBatches), sessions: make(chan sessionOp, queueBatches)}
	if o.URL != "" {
		s.replica = newReplica()
	}
	s.metrics = metrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_store_alerts_total",
			Help: "Alerts written to the store."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_store_dropped_total",
			Help: "Alerts (and exec sessions) not stored because the store's write queue was full."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_store_errors_total",
			Help: "Store writes and clean-ups that failed (disk full, database locked); their alerts are not stored."}),
		streamDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "peregrine_store_stream_dropped_total",
			Help: "Alerts not sent to a /api/v1/stream subscriber that had fallen behind."}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(s.metrics.written, s.metrics.dropped, s.metrics.errors, s.metrics.streamDropped)
	}
	return s, nil
}

// openDB opens the database o names, and says where it is for errors
// (a URL without its password).
func openDB(o Options) (*sql.DB, *dialect, string, error) {
	if o.URL != "" {
		where := redact(o.URL)
		db, err := sql.Open("pgx", o.URL)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", where, err)
		}
		db.SetMaxOpenConns(8)
		return db, postgresDialect(), where, nil
	}
	if err := checkFile(o.Path); err != nil {
		return nil, nil, "", err
	}
	db, err := sql.Open("sqlite", "file:"+o.Path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(10000)")
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", o.Path, err)
	}
	db.SetMaxOpenConns(4)
	return db, sqliteDialect(), o.Path, nil
}

// redact drops the password from a database URL.
func redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "the database URL (unparsable)"
	}
	return parsed.Redacted()
}

// Start writes the queued batches, and applies retention every minute,
// until ctx ends; then it writes what is queued and closes the database.
func (s *Store) Start(ctx context.Context) error {
	defer s.Release() //nolint:errcheck // nothing is left to lose
	stop, err := s.startBackground()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer stop()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	s.retain(time.Now())
	for {
		select {
		case b := <-s.batches:
			s.write(s.more(b))
		case op := <-s.sessions:
			s.session(op)
		case now := <-tick.C:
			s.retain(now)
		case <-ctx.Done():
			for {
				select {
				case b := <-s.batches:
					s.write(b)
				case op := <-s.sessions:
					s.session(op)
				default:
					return nil
				}
			}
		}
	}
}

// startBackground starts what works beside the writer: on SQLite the
// checkpointer (see checkpoints), on PostgreSQL the listener for the
// other replicas' alerts (see listen). stop ends it.
func (s *Store) startBackground() (stop func(), err error) {
	background := func(ctx context.Context) { s.listen(ctx) }
	if s.replica == "" {
		if _, err := s.w.ExecContext(context.Background(), `PRAGMA wal_autocheckpoint = 0`); err != nil {
			return nil, err
		}
		c, err := s.db.Conn(context.Background())
		if err != nil {
			return nil, err
		}
		s.checkpoint = make(chan struct{}, 1)
		s.rows, s.frames = cmp.Or(s.rows, checkpointRows), cmp.Or(s.frames, restartFrames)
		background = func(ctx context.Context) { s.checkpoints(ctx, c) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); background(ctx) }()
	return func() { cancel(); <-done }, nil
}

// more joins to b the batches queued behind it, up to a transaction's
// worth: a commit costs more than the rows it writes, so a writer that
// falls behind catches up in fewer of them.
func (s *Store) more(b []row) []row {
	for len(b) < maxTransaction {
		select {
		case next := <-s.batches:
			b = append(b, next...)
		default:
			return b
		}
	}
	return b
}

// maxTransaction bounds the alerts one commit writes.
const maxTransaction = 8192

// session writes one session record or confirmation.
func (s *Store) session(op sessionOp) {
	if err := s.writeSession(context.Background(), op); err != nil {
		s.metrics.errors.Inc()
		s.o.Log.Warn("store: session not written", "id", op.s.ID, "err", err)
	}
}

// write commits one batch.
func (s *Store) write(b []row) {
	if err := s.insert(context.Background(), b); err != nil {
		s.metrics.errors.Inc()
		s.o.Log.Warn("store: alerts not written", "alerts", len(b), "err", err)
		return
	}
	s.metrics.written.Add(float64(len(b)))
	s.publish(b)
	s.checkpointAfter(context.Background(), len(b))
}

func (s *Store) insert(ctx context.Context, b []row) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	st, err := tx.PrepareContext(ctx, s.d.insert)
	if err != nil {
		return err
	}
	defer st.Close()
	var first int64
	for i := range b {
		if _, err := st.ExecContext(ctx, s.args(&b[i])...); err != nil {
			return err
		}
		if i == 0 && s.replica != "" {
			if first, err = lastID(ctx, tx); err != nil {
				return err
			}
		}
	}
	if s.replica != "" {
		if err := s.announce(ctx, tx, first); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// args are the insert's values for r: on PostgreSQL, with the replica
// that wrote it (see notify.go).
func (s *Store) args(r *row) []any {
	if s.replica == "" {
		return r.args()
	}
	return append(r.args(), s.replica)
}

// retain deletes what is older than the retention, then the oldest alerts
// while they use more than the maximum size.
func (s *Store) retain(now time.Time) {
	ctx := context.Background()
	if s.o.Retention > 0 {
		if _, err := s.w.ExecContext(ctx, s.d.bind(`DELETE FROM alerts WHERE time < ?`), now.Add(-s.o.Retention).UnixNano()); err != nil {
			s.cleanupFailed(err)
			return
		}
	}
	for s.o.MaxSize > 0 && s.d.sizeBounded {
		used, err := s.used(ctx)
		if err != nil || used <= s.o.MaxSize {
			s.cleanupFailed(err)
			return
		}
		if _, err := s.w.ExecContext(ctx, `DELETE FROM alerts WHERE id IN (SELECT id FROM alerts ORDER BY id LIMIT 1000)`); err != nil {
			s.cleanupFailed(err)
			return
		}
	}
}

// used is the bytes the database's pages in use take.
func (s *Store) used(ctx context.Context) (int64, error) {
	var pages, free, size int64
	err := s.w.QueryRowContext(ctx, `SELECT page_count, freelist_count, page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()`).Scan(&pages, &free, &size)
	return (pages - free) * size, err
}

func (s *Store) cleanupFailed(err error) {
	if err != nil {
		s.metrics.errors.Inc()
		s.o.Log.Warn("store: clean-up failed", "err", err)
	}
}

// Name implements output.Sink.
func (s *Store) Name() string { return "store" }

// Send implements output.Sink: the alert joins the batch the next flush
// hands to the writer.
func (s *Store) Send(_ context.Context, line []byte, a *output.Alert) error {
	if !s.linesAreJSON {
		line = a.Line(s.o.Format)
	}
	s.pending = append(s.pending, rowOf(a, line))
	return nil
}

// Flush hands the gathered batch to the writer, or drops and counts it
// when the writer's queue is full.
func (s *Store) Flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	select {
	case s.batches <- s.pending:
	default:
		s.metrics.dropped.Add(float64(len(s.pending)))
	}
	s.pending = nil
	return nil
}

// Close implements output.Sink; Start closes the database.
func (s *Store) Close() error { return s.Flush() }

// Release closes the database of a store that will not be started (or,
// opened read-only, has no writer).
func (s *Store) Release() error {
	var err error
	if s.w != nil {
		err = s.w.Close()
	}
	return errors.Join(err, s.db.Close())
}

// ErrNewerSchema is a database written by a newer Peregrine.
var ErrNewerSchema = errors.New("the database's schema is newer than this peregrine knows")

// checkFile gives a clear error for a path that cannot be a database.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}
