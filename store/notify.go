package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replicas that share a PostgreSQL history see each other's alerts on
// their live streams (/api/v1/stream). Each transaction of alerts ends
// with a notification (NOTIFY, delivered on commit) of the replica that
// wrote it and the first and last ids it took; every other replica
// listens, reads those rows and publishes them to its subscribers.
//
// The rows are read by range *and* replica: ids come from one sequence as
// rows are inserted, so two replicas' concurrent transactions interleave
// them, and a range alone would take the other's alerts too (published
// twice, once early). Reading by range, not by "ids past the last seen",
// also keeps a transaction that commits after one holding later ids from
// being skipped.
//
// A replica's own alerts go to its subscribers as it writes them
// (publish), never through the database. While the listening connection
// is down (logged, counted as a store error, retried every second), the
// others' alerts miss the live streams; they are in the history.
const alertsChannel = "peregrine_alerts"

// notice is what a transaction's notification says.
type notice struct {
	replica     string
	first, last int64
}

func (n notice) String() string { return fmt.Sprintf("%s %d %d", n.replica, n.first, n.last) }

func parseNotice(payload string) (notice, error) {
	var n notice
	if _, err := fmt.Sscanf(payload, "%s %d %d", &n.replica, &n.first, &n.last); err != nil {
		return n, fmt.Errorf("notification %q: %w", payload, err)
	}
	return n, nil
}

// newReplica names this replica in its rows and notifications.
func newReplica() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

// announce ends tx, which inserted alerts from id first on, with its
// notification.
func (s *Store) announce(ctx context.Context, tx *sql.Tx, first int64) error {
	last, err := lastID(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, alertsChannel,
		notice{replica: s.replica, first: first, last: last}.String())
	return err
}

// lastID is the id the transaction's last insert took (PostgreSQL).
func lastID(ctx context.Context, tx *sql.Tx) (id int64, err error) {
	return id, tx.QueryRowContext(ctx, `SELECT lastval()`).Scan(&id)
}

// listen publishes the alerts the other replicas store, until ctx ends.
func (s *Store) listen(ctx context.Context) {
	for {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.metrics.errors.Inc()
		s.o.Log.Warn("store: not listening for the other replicas' alerts; retrying in 1s", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	c, err := pgx.Connect(ctx, s.o.URL)
	if err != nil {
		return err
	}
	defer c.Close(context.Background()) //nolint:errcheck // the connection goes either way
	if _, err := c.Exec(ctx, "LISTEN "+alertsChannel); err != nil {
		return err
	}
	s.listening.Store(true)
	defer s.listening.Store(false)
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if err := s.relay(ctx, n.Payload); err != nil {
			s.metrics.errors.Inc()
			s.o.Log.Warn("store: another replica's alerts not streamed", "err", err)
		}
	}
}

// relay publishes the alerts a notification announces, when it is
// another replica's and someone is subscribed.
func (s *Store) relay(ctx context.Context, payload string) error {
	n, err := parseNotice(payload)
	if err != nil || n.replica == s.replica || !s.subscribed() {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT time, rule, priority, source, namespace, pod, "user", exec_user,
		session, output, json FROM alerts WHERE id BETWEEN $1 AND $2 AND replica = $3 ORDER BY id`, n.first, n.last, n.replica)
	if err != nil {
		return err
	}
	defer rows.Close()
	var got []row
	for rows.Next() {
		var r row
		var ns, pod, user, execUser, session sql.NullString
		if err := rows.Scan(&r.time, &r.rule, &r.priority, &r.source, &ns, &pod, &user, &execUser, &session,
			&r.output, &r.json); err != nil {
			return err
		}
		r.namespace, r.pod, r.user, r.execUser, r.session = ns.String, pod.String, user.String, execUser.String, session.String
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.publish(got)
	return nil
}
