package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Session is an exec session as the API shows it.
type Session struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Groups    []string  `json:"groups"`
	Namespace string    `json:"namespace"`
	Pod       string    `json:"pod"`
	Container string    `json:"container"`
	Command   []string  `json:"command"`
	TTY       bool      `json:"tty"`
	Time      time.Time `json:"time"`
	AuditID   string    `json:"auditid"`
	Verdict   string    `json:"verdict"` // allowed, denied or unknown (no webhook saw it)
	Alerts    int       `json:"alerts"`  // raised by its processes
}

// Verdicts.
const (
	Allowed = "allowed"
	Denied  = "denied"
	Unknown = "unknown"
)

// sessionOp is a session write: a session to record, a confirmation
// (ID and AuditID only), or a binding.
type sessionOp struct {
	bind    *binding
	s       Session
	confirm bool
}

// RecordSession keeps an exec session: from admission, with its verdict;
// from an audit event alone, late, with its audit ID and an unknown
// verdict (kept only where admission recorded none). It never blocks: a
// full write queue drops and counts it.
func (s *Store) RecordSession(x Session) { s.queueSession(sessionOp{s: x}) }

// BindSession records that an agent bound a process to session x, in
// container containerID at t (ambiguous: a guess); the first binding
// reported is kept. x is recorded too, where this store has no record of
// it: with a store per replica, the agent reports to one replica and
// admission to another. It never blocks.
func (s *Store) BindSession(x Session, containerID string, t time.Time, ambiguous bool) {
	s.queueSession(sessionOp{s: x, bind: &binding{containerID, t, ambiguous}})
}

// binding is a binding to write.
type binding struct {
	containerID string
	at          time.Time
	ambiguous   bool
}

// ConfirmSession adds the audit ID the session's audit event carries.
func (s *Store) ConfirmSession(id, auditID string) {
	s.queueSession(sessionOp{s: Session{ID: id, AuditID: auditID}, confirm: true})
}

func (s *Store) queueSession(op sessionOp) {
	select {
	case s.sessions <- op:
	default:
		s.metrics.dropped.Inc()
	}
}

func (s *Store) writeSession(ctx context.Context, op sessionOp) error {
	x := op.s
	if op.confirm {
		_, err := s.w.ExecContext(ctx, s.d.bind(`UPDATE sessions SET auditid = ? WHERE id = ?`), x.AuditID, x.ID)
		return err
	}
	groups, _ := json.Marshal(nonNil(x.Groups))
	command, _ := json.Marshal(nonNil(x.Command))
	args := []any{x.ID, x.User, string(groups), x.Namespace, x.Pod, x.Container, string(command), x.TTY, x.Time.UnixNano(), x.AuditID, x.Verdict}
	if b := op.bind; b != nil {
		_, err := s.w.ExecContext(ctx, s.d.bind(`INSERT INTO sessions (id, "user", groups, namespace, pod, container, command, tty, time, auditid,
			verdict, bound_at, container_id, ambiguous) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET bound_at = excluded.bound_at, container_id = excluded.container_id,
			ambiguous = excluded.ambiguous WHERE sessions.bound_at = 0`), append(args, b.at.UnixNano(), b.containerID, b.ambiguous)...)
		return err
	}
	_, err := s.w.ExecContext(ctx, s.d.bind(`INSERT INTO sessions (id, "user", groups, namespace, pod, container, command, tty, time, auditid, verdict)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET auditid = excluded.auditid WHERE sessions.auditid = ''`), args...)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SessionQuery selects sessions, newest first.
type SessionQuery struct {
	User, Namespace, Pod string
	Since                time.Time
	Limit                int
	Cursor               string
}

// ParseSessionQuery reads /api/v1/sessions' query parameters.
func ParseSessionQuery(v url.Values) (SessionQuery, error) {
	for k := range v {
		switch k {
		case "user", "namespace", "pod", "since", "limit", "cursor":
		default:
			return SessionQuery{}, fmt.Errorf("%s: not a filter of sessions (user, namespace, pod, since, limit, cursor)", k)
		}
	}
	q, err := ParseQuery(v)
	return SessionQuery{User: q.User, Namespace: q.Namespace, Pod: q.Pod, Since: q.Since, Limit: q.Limit, Cursor: q.Cursor}, err
}

// SessionPage is one page of sessions.
type SessionPage struct {
	Items []Session `json:"items"`
	Next  string    `json:"next"`
}

const sessionColumns = `id, "user", groups, namespace, pod, container, command, tty, time, auditid, verdict,
	(SELECT COUNT(*) FROM alerts WHERE alerts.session = sessions.id)`

// Sessions answers q.
func (s *Store) Sessions(ctx context.Context, q SessionQuery) (SessionPage, error) {
	var conds []string
	var args []any
	for col, v := range map[string]string{`"user"`: q.User, "namespace": q.Namespace, "pod": q.Pod} {
		if v != "" {
			conds, args = append(conds, col+" = ?"), append(args, v)
		}
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "time >= ?"), append(args, q.Since.UnixNano())
	}
	if q.Cursor != "" {
		t, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return SessionPage{}, err
		}
		conds, args = append(conds, "(time < ? OR (time = ? AND "+s.d.order+" < ?))"), append(args, t, t, id)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	limit := q.Limit
	if limit < 1 || limit > MaxLimit {
		limit = DefaultLimit
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT `+s.d.order+`, `+sessionColumns+` FROM sessions`+where+
		` ORDER BY time DESC, `+s.d.order+` DESC LIMIT ?`),
		append(args, limit+1)...)
	if err != nil {
		return SessionPage{}, fmt.Errorf("store: query: %w", err)
	}
	defer rows.Close()
	page := SessionPage{Items: []Session{}}
	var lastRow int64
	for rows.Next() {
		var rowid int64
		x, err := scanSession(rows, &rowid)
		if err != nil {
			return SessionPage{}, err
		}
		if len(page.Items) == limit {
			page.Next = encodeCursor(page.Items[limit-1].Time.UnixNano(), lastRow)
			break
		}
		page.Items, lastRow = append(page.Items, x), rowid
	}
	return page, rows.Err()
}

// ErrNoSession is a session id the store does not hold.
var ErrNoSession = errors.New("no such session")

// SessionAlerts is a session and the alerts of its processes, oldest
// first (GET /api/v1/sessions/{id}).
type SessionAlerts struct {
	Session Session           `json:"session"`
	Alerts  []json.RawMessage `json:"alerts"`
}

// SessionBinding is whether an agent bound a process to a session (GET
// /api/v1/sessions/{id}/binding: beside the session, whose shape is the
// API's contract).
type SessionBinding struct {
	// State is bound; pending while an agent may still bind it (within
	// the exec sessions' window); or unbound: it was refused, ran no
	// process of its own (attach), or no agent saw its process.
	State       string     `json:"state"`
	ContainerID string     `json:"container_id,omitempty"` // the runtime's id
	Time        *time.Time `json:"time,omitempty"`
	Ambiguous   bool       `json:"ambiguous,omitempty"` // another session ran the same command there then
}

// Binding states.
const (
	Bound   = "bound"
	Pending = "pending"
	Unbound = "unbound"
)

// SessionByID answers GET /api/v1/sessions/{id}.
func (s *Store) SessionByID(ctx context.Context, id string) (SessionAlerts, error) {
	var rowid int64
	x, err := scanSession(s.db.QueryRowContext(ctx, s.d.bind(`SELECT `+s.d.order+`, `+sessionColumns+` FROM sessions WHERE id = ?`), id), &rowid)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionAlerts{}, fmt.Errorf("%w: %q", ErrNoSession, id)
	}
	if err != nil {
		return SessionAlerts{}, err
	}
	out := SessionAlerts{Session: x, Alerts: []json.RawMessage{}}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT json FROM alerts WHERE session = ? ORDER BY time, id LIMIT ?`), id, MaxLimit)
	if err != nil {
		return SessionAlerts{}, fmt.Errorf("store: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return SessionAlerts{}, err
		}
		out.Alerts = append(out.Alerts, json.RawMessage(doc))
	}
	return out, rows.Err()
}

func scanSession(r interface{ Scan(...any) error }, rowid *int64) (Session, error) {
	var x Session
	var groups, command string
	var t int64
	if err := r.Scan(rowid, &x.ID, &x.User, &groups, &x.Namespace, &x.Pod, &x.Container, &command, &x.TTY, &t,
		&x.AuditID, &x.Verdict, &x.Alerts); err != nil {
		return x, err
	}
	x.Time = time.Unix(0, t).UTC()
	json.Unmarshal([]byte(groups), &x.Groups)
	json.Unmarshal([]byte(command), &x.Command)
	return x, nil
}

// Binding answers GET /api/v1/sessions/{id}/binding.
func (s *Store) Binding(ctx context.Context, id string) (SessionBinding, error) {
	var at, t int64
	var verdict string
	var b SessionBinding
	err := s.db.QueryRowContext(ctx, s.d.bind(`SELECT bound_at, container_id, ambiguous, time, verdict FROM sessions WHERE id = ?`), id).
		Scan(&at, &b.ContainerID, &b.Ambiguous, &t, &verdict)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return b, fmt.Errorf("%w: %q", ErrNoSession, id)
	case err != nil:
		return b, fmt.Errorf("store: query: %w", err)
	case at != 0:
		t := time.Unix(0, at).UTC()
		b.State, b.Time = Bound, &t
	case verdict != Denied && time.Since(time.Unix(0, t)) <= s.o.SessionWindow:
		b.State = Pending
	default:
		b.State = Unbound
	}
	return b, nil
}
