package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Reader answers queries: a store file, or a running service's API.
type Reader interface {
	Alerts(ctx context.Context, q Query) (Page, error)
	Sessions(ctx context.Context, q SessionQuery) (SessionPage, error)
}

// OpenReadOnly opens a store file for queries only (peregrine alerts
// --db): it is never written, nor its schema changed.
func OpenReadOnly(path string) (*Store, error) {
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	d := sqliteDialect()
	version, err := d.version(context.Background(), db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: not a readable SQLite database: %w", path, err)
	}
	if version != len(d.migrations) {
		db.Close()
		return nil, fmt.Errorf("store %s: schema %d, this peregrine reads %d", path, version, len(d.migrations))
	}
	return &Store{db: db, d: d}, nil
}

// Remote reads the alert API of the service whose webserver is at base
// (http://127.0.0.1:8765), with a bearer token when token is not "".
func Remote(base string, c *http.Client, token string) Reader {
	return remote{strings.TrimSuffix(base, "/"), c, token}
}

type remote struct {
	base   string
	client *http.Client
	token  string
}

func (r remote) Alerts(ctx context.Context, q Query) (Page, error) {
	var p Page
	return p, r.get(ctx, "/api/v1/alerts?"+q.Values().Encode(), &p)
}

func (r remote) Sessions(ctx context.Context, q SessionQuery) (SessionPage, error) {
	v := Query{User: q.User, Namespace: q.Namespace, Pod: q.Pod, Since: q.Since, Limit: q.Limit, Cursor: q.Cursor}.Values()
	var p SessionPage
	return p, r.get(ctx, "/api/v1/sessions?"+v.Encode(), &p)
}

// get reads the API's answer at path into v.
func (r remote) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return err
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		return fmt.Errorf("%s answered %s: %s", r.base, resp.Status, e.Error)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: not an answer of the API: %w", r.base, err)
	}
	return nil
}

// Values are q as the API's query parameters (what ParseQuery reads).
func (q Query) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		set("since", q.Since.Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	if !q.Until.IsZero() {
		set("until", q.Until.Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	if q.Priority != nil {
		set("priority", q.Priority.String())
	}
	for k, s := range map[string]string{"source": q.Source, "rule": q.Rule, "namespace": q.Namespace, "pod": q.Pod,
		"user": q.User, "session": q.Session, "q": q.Text, "cursor": q.Cursor} {
		set(k, s)
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	return v
}

// Print writes a page's alerts to out, one a line: as stored (json), or
// their output text (text); when there is another page, errOut says how
// to get it.
func Print(p Page, format string, out, errOut io.Writer) error {
	for _, item := range p.Items {
		line := []byte(item)
		if format == "text" {
			var a struct {
				Output string `json:"output"`
			}
			if err := json.Unmarshal(item, &a); err != nil {
				return fmt.Errorf("stored alert: %w", err)
			}
			line = []byte(a.Output)
		}
		if _, err := out.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	if p.Next != "" {
		fmt.Fprintf(errOut, "peregrine: more alerts: add --cursor %s\n", p.Next)
	}
	return nil
}

// PrintSessions writes a page of sessions to out, one a line: as the API
// shows them (json), or who, where, what and the verdict (text).
func PrintSessions(p SessionPage, format string, out, errOut io.Writer) error {
	for _, x := range p.Items {
		var line []byte
		if format == "text" {
			line = fmt.Appendf(nil, "%s %s %s/%s %s %q %s alerts=%d", x.Time.Format(time.RFC3339), x.User, x.Namespace,
				x.Pod, x.Container, strings.Join(x.Command, " "), x.Verdict, x.Alerts)
		} else {
			line, _ = json.Marshal(x)
		}
		if _, err := out.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	if p.Next != "" {
		fmt.Fprintf(errOut, "peregrine: more sessions: add --cursor %s\n", p.Next)
	}
	return nil
}
