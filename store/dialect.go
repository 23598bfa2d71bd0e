package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// A dialect is what differs between the two databases the store keeps
// its history in: SQLite, a file of one replica (the default), and
// PostgreSQL, one database for several (store.url). The queries are the
// same text, written with ? placeholders and "user" quoted.
type dialect struct {
	name       string
	migrations []string
	insert     string // an alert's row
	// dollars: placeholders are $1, $2, ... (PostgreSQL) instead of ?.
	dollars bool
	// like is the case-insensitive LIKE (SQLite's LIKE is, for ASCII).
	like string
	// order is the sessions' column for ties in time (cursors).
	order string
	// version reads the schema version, setVersion writes it in a
	// migration's transaction, lock serialises replicas migrating at once.
	version    func(ctx context.Context, db *sql.DB) (int, error)
	setVersion func(tx *sql.Tx, v int) error
	lock       func(tx *sql.Tx) error
	// sizeBounded: store.max_size applies (a SQLite file shrinks as its
	// pages are reused; PostgreSQL reclaims space only when vacuumed, so
	// deleting until the size drops would delete everything).
	sizeBounded bool
}

// bind rewrites q's placeholders for the dialect. The store's queries
// have no ? inside literals.
func (d *dialect) bind(q string) string {
	if !d.dollars || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func sqliteDialect() *dialect {
	return &dialect{name: "sqlite", migrations: sqliteMigrations, insert: insertAlert, like: "LIKE", order: "rowid", sizeBounded: true,
		version: func(ctx context.Context, db *sql.DB) (v int, err error) {
			return v, db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
		},
		setVersion: func(tx *sql.Tx, v int) error {
			// PRAGMA takes no parameters; v is this program's own number.
			_, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v))
			return err
		},
		lock: func(*sql.Tx) error { return nil }, // a SQLite write transaction holds the file
	}
}

func postgresDialect() *dialect {
	d := &dialect{name: "postgres", migrations: postgresMigrations, dollars: true, like: "ILIKE", order: "seq",
		version: func(ctx context.Context, db *sql.DB) (v int, err error) {
			if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS peregrine_schema (version INTEGER NOT NULL)`); err != nil {
				return 0, err
			}
			err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM peregrine_schema`).Scan(&v)
			return v, err
		},
		setVersion: func(tx *sql.Tx, v int) error {
			if _, err := tx.Exec(`DELETE FROM peregrine_schema`); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO peregrine_schema (version) VALUES ($1)`, v)
			return err
		},
		// Replicas that start together migrate one after the other.
		lock: func(tx *sql.Tx) error {
			_, err := tx.Exec(`SELECT pg_advisory_xact_lock(7365726567)`)
			return err
		},
	}
	// The replica that wrote the alert: see notify.go.
	d.insert = d.bind(strings.Replace(strings.Replace(insertAlert, "json)", "json, replica)", 1), "?)", "?, ?)", 1))
	return d
}

// postgresMigrations are the schema of sqliteMigrations as it stands, in
// PostgreSQL's types; versions count from there.
var postgresMigrations = []string{
	`CREATE TABLE alerts (
		id        BIGSERIAL PRIMARY KEY,
		uuid      TEXT NOT NULL,
		time      BIGINT NOT NULL,
		rule      TEXT NOT NULL,
		priority  INTEGER NOT NULL,
		source    TEXT NOT NULL,
		namespace TEXT,
		pod       TEXT,
		"user"    TEXT,
		exec_user TEXT,
		session   TEXT,
		output    TEXT NOT NULL,
		json      TEXT NOT NULL
	);
	CREATE INDEX alerts_time ON alerts (time, id);
	CREATE INDEX alerts_rule ON alerts (rule, time);
	CREATE INDEX alerts_user ON alerts ("user", time) WHERE "user" IS NOT NULL;
	CREATE INDEX alerts_exec_user ON alerts (exec_user, time) WHERE exec_user IS NOT NULL;
	CREATE INDEX alerts_session ON alerts (session, time) WHERE session IS NOT NULL;
	CREATE INDEX alerts_namespace ON alerts (namespace, pod, time) WHERE namespace IS NOT NULL;
	CREATE TABLE sessions (
		seq       BIGSERIAL UNIQUE,
		id        TEXT PRIMARY KEY,
		"user"    TEXT NOT NULL,
		groups    TEXT NOT NULL,
		namespace TEXT NOT NULL,
		pod       TEXT NOT NULL,
		container TEXT NOT NULL,
		command   TEXT NOT NULL,
		tty       BOOLEAN NOT NULL,
		time      BIGINT NOT NULL,
		auditid   TEXT NOT NULL,
		verdict   TEXT NOT NULL
	);
	CREATE INDEX sessions_time ON sessions (time, seq);
	CREATE INDEX sessions_user ON sessions ("user", time);
	CREATE INDEX sessions_namespace ON sessions (namespace, pod, time);`,
	`ALTER TABLE sessions ADD COLUMN bound_at BIGINT NOT NULL DEFAULT 0,
		ADD COLUMN container_id TEXT NOT NULL DEFAULT '',
		ADD COLUMN ambiguous BOOLEAN NOT NULL DEFAULT false;`,
	// PostgreSQL only: which replica wrote the alert (notify.go).
	`ALTER TABLE alerts ADD COLUMN replica TEXT;`,
}
