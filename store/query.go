package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Query selects alerts, newest first.
type Query struct {
	Since, Until time.Time // zero: unbounded
	Source       string
	Priority     *rules.Priority // at least this severe; nil: any
	Rule         string          // exact name
	Namespace    string
	Pod          string
	User         string // ka.user.name or k8s.exec.user
	Session      string // k8s.exec.id
	Text         string // in the output text
	Limit        int
	Cursor       string // from the previous page's Next
}

// Paging bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ParseQuery reads the API's query parameters; the error says which one
// is wrong and why.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Source: v.Get("source"), Rule: v.Get("rule"), Namespace: v.Get("namespace"), Pod: v.Get("pod"),
		User: v.Get("user"), Session: v.Get("session"), Text: v.Get("q"), Cursor: v.Get("cursor"), Limit: DefaultLimit}
	var err error
	for name, t := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			if *t, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return q, fmt.Errorf("%s: %q is not an RFC 3339 time", name, s)
			}
		}
	}
	if s := v.Get("priority"); s != "" {
		p, ok := rules.ParsePriority(s)
		if !ok {
			return q, fmt.Errorf("priority: %q is not a priority (emergency ... debug)", s)
		}
		q.Priority = &p
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 || q.Limit > MaxLimit {
			return q, fmt.Errorf("limit: %q is not a number from 1 to %d", s, MaxLimit)
		}
	}
	if _, _, err := decodeCursor(q.Cursor); err != nil {
		return q, err
	}
	return q, nil
}

// Page is one page of alerts, each as the outputs write it.
type Page struct {
	Items []json.RawMessage `json:"items"`
	Next  string            `json:"next"` // "" on the last page
}

// Alerts answers q.
func (s *Store) Alerts(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit < 1 || limit > MaxLimit {
		limit = DefaultLimit
	}
	if q.Text != "" {
		return s.textPage(ctx, q, limit)
	}
	sql, args, err := q.newest(s.d, limit+1)
	if err != nil {
		return Page{}, err
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(sql), args...)
	if err != nil {
		return Page{}, fmt.Errorf("store: query: %w", err)
	}
	defer rows.Close()
	page := Page{Items: []json.RawMessage{}}
	var lastID, lastTime int64
	for rows.Next() {
		var id, t int64
		var doc string
		if err := rows.Scan(&id, &t, &doc); err != nil {
			return Page{}, fmt.Errorf("store: query: %w", err)
		}
		if len(page.Items) == limit {
			page.Next = encodeCursor(lastTime, lastID)
			break
		}
		page.Items = append(page.Items, json.RawMessage(doc))
		lastID, lastTime = id, t
	}
	return page, rows.Err()
}

// newest is the query of q's newest n alerts (id, time, json). A user is
// ka.user.name or k8s.exec.user: the newest n of each, through its
// index, and the newest n of both together. (An OR of the two would read
// every alert of the user, then sort them.)
func (q Query) newest(d *dialect, n int) (string, []any, error) {
	const order = ` ORDER BY time DESC, id DESC LIMIT ?`
	if q.User == "" {
		where, args, err := q.where(d)
		return `SELECT id, time, json FROM alerts` + where + order, append(args, n), err
	}
	user := q.User
	q.User = ""
	where, args, err := q.where(d)
	if err != nil {
		return "", nil, err
	}
	and := " WHERE "
	if where != "" {
		and = where + " AND "
	}
	branch := func(col, alias string) string {
		return `SELECT * FROM (SELECT id, time, json FROM alerts` + and + col + ` = ?` + order + `) AS ` + alias
	}
	sql := `SELECT id, time, json FROM (` + branch(`"user"`, "a") + ` UNION ` + branch("exec_user", "b") + `) AS u` + order
	all := append(append(append(append([]any{}, args...), user, n), args...), user, n, n)
	return sql, all, nil
}

// textScan is how many alerts a page of a q query reads at most. No index
// finds a substring (an FTS5 trigram index, tried, took BenchmarkStoreWrite
// from 46k to 9k alerts/s), so q reads the alerts the other filters
// select, newest first; bounding what one page reads bounds its time. A
// page then holds the matches among those: fewer than its limit, even
// none, with a next cursor that goes on from the last alert read, until ""
// says the scan is done.
const textScan = 10000

// scanLimit is textScan, or a test's smaller bound.
func (s *Store) scanLimit() int {
	if s.textScan > 0 {
		return s.textScan
	}
	return textScan
}

// textPage answers a query with q: its other filters through their
// indexes, and the text matched here, as the stream matches it.
func (s *Store) textPage(ctx context.Context, q Query, limit int) (Page, error) {
	text := strings.ToLower(q.Text)
	q.Text = ""
	where, args, err := q.where(s.d)
	if err != nil {
		return Page{}, err
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT id, time, output, json FROM alerts`+where+
		` ORDER BY time DESC, id DESC LIMIT ?`), append(args, s.scanLimit())...)
	if err != nil {
		return Page{}, fmt.Errorf("store: query: %w", err)
	}
	defer rows.Close()
	page := Page{Items: []json.RawMessage{}}
	var read int
	var lastID, lastTime int64
	for rows.Next() {
		var id, t int64
		var out, doc string
		if err := rows.Scan(&id, &t, &out, &doc); err != nil {
			return Page{}, fmt.Errorf("store: query: %w", err)
		}
		if containsFold(out, text) {
			if len(page.Items) == limit {
				page.Next = encodeCursor(lastTime, lastID)
				return page, nil
			}
			page.Items = append(page.Items, json.RawMessage(doc))
		}
		read, lastID, lastTime = read+1, id, t
	}
	if read == s.scanLimit() {
		page.Next = encodeCursor(lastTime, lastID)
	}
	return page, rows.Err()
}

// containsFold is q's match, for pages and the stream alike: the text
// anywhere in the output, in any case (lowerText is the text lowered once,
// not for every alert).
func containsFold(output, lowerText string) bool {
	return strings.Contains(strings.ToLower(output), lowerText)
}

// where is the query's WHERE clause, every value a parameter.
func (q Query) where(d *dialect) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, vals ...any) {
		conds = append(conds, cond)
		args = append(args, vals...)
	}
	if !q.Since.IsZero() {
		add("time >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time <= ?", q.Until.UnixNano())
	}
	for col, v := range map[string]string{"source": q.Source, "rule": q.Rule, "namespace": q.Namespace, "pod": q.Pod, "session": q.Session} {
		if v != "" {
			add(col+" = ?", v)
		}
	}
	if q.Priority != nil {
		add("priority <= ?", int(*q.Priority))
	}
	if q.User != "" {
		add(`("user" = ? OR exec_user = ?)`, q.User, q.User)
	}
	if q.Text != "" {
		add(`output `+d.like+` ? ESCAPE '\'`, "%"+likeEscaper.Replace(q.Text)+"%")
	}
	if q.Cursor != "" {
		t, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return "", nil, err
		}
		add("(time < ? OR (time = ? AND id < ?))", t, t, id)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// A cursor is where the previous page ended: its last alert's time and id.
func encodeCursor(t, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t, 10) + "." + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (t, id int64, err error) {
	if c == "" {
		return 0, 0, nil
	}
	bad := fmt.Errorf("cursor: %q is not one this API gave", c)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, bad
	}
	ts, ids, ok := strings.Cut(string(b), ".")
	if t, err = strconv.ParseInt(ts, 10, 64); !ok || err != nil {
		return 0, 0, bad
	}
	if id, err = strconv.ParseInt(ids, 10, 64); err != nil {
		return 0, 0, bad
	}
	return t, id, nil
}
