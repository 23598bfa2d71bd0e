package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/peregrine-sec/peregrine/output"
)

// sqliteMigrations bring the schema from version i to i+1; the
// database's user_version is how many have run.
var sqliteMigrations = []string{
	`CREATE TABLE alerts (
		id        INTEGER PRIMARY KEY,
		uuid      TEXT NOT NULL,
		time      INTEGER NOT NULL, -- Unix nanoseconds
		rule      TEXT NOT NULL,
		priority  INTEGER NOT NULL, -- 0 Emergency .. 7 Debug
		source    TEXT NOT NULL,
		namespace TEXT NOT NULL,
		pod       TEXT NOT NULL,
		user      TEXT NOT NULL,    -- ka.user.name
		exec_user TEXT NOT NULL,    -- k8s.exec.user
		session   TEXT NOT NULL,    -- k8s.exec.id
		output    TEXT NOT NULL,
		json      TEXT NOT NULL
	);
	CREATE INDEX alerts_time ON alerts (time, id);
	CREATE INDEX alerts_rule ON alerts (rule, time);
	CREATE INDEX alerts_user ON alerts (user, time);
	CREATE INDEX alerts_exec_user ON alerts (exec_user, time);
	CREATE INDEX alerts_session ON alerts (session, time);
	CREATE INDEX alerts_namespace ON alerts (namespace, pod, time);`,
	`CREATE TABLE sessions (
		id        TEXT PRIMARY KEY, -- the admission request's uid, or the audit ID without a webhook
		user      TEXT NOT NULL,
		groups    TEXT NOT NULL,    -- JSON array
		namespace TEXT NOT NULL,
		pod       TEXT NOT NULL,
		container TEXT NOT NULL,    -- as requested; "" for the pod's default
		command   TEXT NOT NULL,    -- JSON array
		tty       INTEGER NOT NULL,
		time      INTEGER NOT NULL, -- Unix nanoseconds
		auditid   TEXT NOT NULL,
		verdict   TEXT NOT NULL     -- allowed, denied, unknown
	);
	CREATE INDEX sessions_time ON sessions (time, id);
	CREATE INDEX sessions_user ON sessions (user, time);
	CREATE INDEX sessions_namespace ON sessions (namespace, pod, time);`,
	// Absent values are NULL, and the indexes on them partial: an audit
	// alert has no session and no k8s.exec.user, a syscall alert no
	// ka.user.name, and a row stays out of the indexes of what it lacks.
	// (Each index a row enters costs a b-tree insertion; with six on
	// every row they were most of a write.) Queries compare with = a
	// value given, which implies IS NOT NULL, so they use them.
	`CREATE TABLE alerts_v3 (
		id        INTEGER PRIMARY KEY,
		uuid      TEXT NOT NULL,
		time      INTEGER NOT NULL,
		rule      TEXT NOT NULL,
		priority  INTEGER NOT NULL,
		source    TEXT NOT NULL,
		namespace TEXT,
		pod       TEXT,
		user      TEXT,
		exec_user TEXT,
		session   TEXT,
		output    TEXT NOT NULL,
		json      TEXT NOT NULL
	);
	INSERT INTO alerts_v3 SELECT id, uuid, time, rule, priority, source, NULLIF(namespace, ''), NULLIF(pod, ''),
		NULLIF(user, ''), NULLIF(exec_user, ''), NULLIF(session, ''), output, json FROM alerts;
	DROP TABLE alerts;
	ALTER TABLE alerts_v3 RENAME TO alerts;
	CREATE INDEX alerts_time ON alerts (time, id);
	CREATE INDEX alerts_rule ON alerts (rule, time);
	CREATE INDEX alerts_user ON alerts (user, time) WHERE user IS NOT NULL;
	CREATE INDEX alerts_exec_user ON alerts (exec_user, time) WHERE exec_user IS NOT NULL;
	CREATE INDEX alerts_session ON alerts (session, time) WHERE session IS NOT NULL;
	CREATE INDEX alerts_namespace ON alerts (namespace, pod, time) WHERE namespace IS NOT NULL;`,
	// Binding: when an agent bound a process to the session, in which
	// container, and whether that was a guess (0: not bound).
	`ALTER TABLE sessions ADD COLUMN bound_at INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE sessions ADD COLUMN container_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE sessions ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0;`,
}

// migrate runs the migrations the database lacks, each in a transaction.
func migrate(db *sql.DB, d *dialect) error {
	ctx := context.Background()
	version, err := d.version(ctx, db)
	if err != nil {
		return fmt.Errorf("not a readable %s database: %w", d.name, err)
	}
	if version > len(d.migrations) {
		return fmt.Errorf("%w (schema %d, this peregrine knows up to %d)", ErrNewerSchema, version, len(d.migrations))
	}
	for v := version; v < len(d.migrations); v++ {
		if err := migrateOne(ctx, db, d, v); err != nil {
			return err
		}
	}
	return nil
}

// migrateOne runs migration v, unless another replica has meanwhile.
func migrateOne(ctx context.Context, db *sql.DB, d *dialect, v int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if err := d.lock(tx); err != nil {
		return err
	}
	var now int
	if now, err = d.version(ctx, db); err != nil || now > v {
		return err
	}
	if _, err := tx.Exec(d.migrations[v]); err != nil {
		return fmt.Errorf("schema %d: %w", v+1, err)
	}
	if err := d.setVersion(tx, v+1); err != nil {
		return err
	}
	return tx.Commit()
}

const insertAlert = `INSERT INTO alerts (uuid, time, rule, priority, source, namespace, pod, "user", exec_user, session, output, json)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// row is an alert as the alerts table holds it.
type row struct {
	uuid                                            string
	time                                            int64
	rule                                            string
	priority                                        int
	source, namespace, pod, user, execUser, session string
	output, json                                    string
}

func (r *row) args() []any {
	return []any{r.uuid, r.time, r.rule, r.priority, r.source, null(r.namespace), null(r.pod), null(r.user),
		null(r.execUser), null(r.session), r.output, r.json}
}

// null is NULL for an absent (empty) value.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// rowOf is the row of alert a, kept as line (its JSON).
func rowOf(a *output.Alert, line []byte) row {
	field := func(names ...string) string {
		for _, n := range names {
			if s, ok := a.OutputFields[n].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	pod := field("k8s.pod.name")
	if pod == "" && field("ka.target.resource") == "pods" {
		pod = field("ka.target.name")
	}
	return row{uuid: a.ID, time: a.Time.UnixNano(), rule: a.Rule, priority: int(a.Priority), source: a.Source,
		namespace: field("k8s.ns.name", "ka.target.namespace"), pod: pod, user: field("ka.user.name"),
		execUser: field("k8s.exec.user"), session: field("k8s.exec.id"), output: a.Message,
		json: strings.TrimSuffix(string(line), "\n")}
}
