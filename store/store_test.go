package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-sec/peregrine/internal/pgtest"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// fixture is what the tests store, oldest first.
var fixture = []*output.Alert{
	{ID: "a1", Time: t0, Rule: "Create Privileged Pod", Priority: rules.Warning, Source: "k8s_audit",
		Message:      "Pod started with privileged container (user=alice pod=web ns=shop)",
		OutputFields: map[string]any{"ka.user.name": "alice", "ka.target.namespace": "shop", "ka.target.resource": "pods", "ka.target.name": "web"}},
	{ID: "a2", Time: t0.Add(time.Second), Rule: "Read sensitive file untrusted", Priority: rules.Warning, Source: "syscall",
		Message:      "Sensitive file opened for reading (file=/etc/shadow 50%_off)",
		OutputFields: map[string]any{"k8s.exec.user": "bob", "k8s.exec.id": "s-1", "k8s.ns.name": "shop", "k8s.pod.name": "web"}},
	{ID: "a3", Time: t0.Add(2 * time.Second), Rule: "Disallowed K8s User", Priority: rules.Notice, Source: "k8s_audit",
		Message:      "K8s Operation performed by user not in allowed list of users (user=mallory)",
		OutputFields: map[string]any{"ka.user.name": "mallory", "ka.target.namespace": "kube-system"}},
	{ID: "a4", Time: t0.Add(3 * time.Second), Rule: "Terminal shell in container", Priority: rules.Critical, Source: "syscall",
		Message:      "A shell was spawned in a container (user=alice)",
		OutputFields: map[string]any{"k8s.exec.user": "alice", "k8s.exec.id": "s-2", "k8s.ns.name": "web", "k8s.pod.name": "front"}},
}

// filled is a running store holding the fixture.
func filled(t *testing.T, fresh backend) *Store {
	t.Helper()
	s := open(t, fresh(t))
	for _, a := range fixture {
		send(s, a)
	}
	s.Flush()
	waitWritten(t, s, len(fixture))
	return s
}

// send hands a to the store as the outputs do, with its JSON line.
func send(s *Store, a *output.Alert) { s.Send(context.Background(), a.Line(output.DefaultFormat()), a) }

func open(t testing.TB, o Options) *Store {
	t.Helper()
	o.Log, o.Format = slog.New(slog.DiscardHandler), output.DefaultFormat()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func waitWritten(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); testutil.ToFloat64(s.metrics.written) < float64(n); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v alerts written, want %d", testutil.ToFloat64(s.metrics.written), n)
		}
	}
}

// ids are the uuids of a page's alerts, in its order.
func ids(t *testing.T, p Page) []string {
	t.Helper()
	out := []string{}
	for _, item := range p.Items {
		var a struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(item, &a); err != nil {
			t.Fatalf("stored alert %s: %v", item, err)
		}
		out = append(out, a.UUID)
	}
	return out
}

func TestAlerts(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		s := filled(t, fresh)
		tests := []struct {
			query string
			want  []string
		}{
			{"", []string{"a4", "a3", "a2", "a1"}},
			{"user=alice", []string{"a4", "a1"}}, // ka.user.name or k8s.exec.user
			{"user=bob", []string{"a2"}},
			{"priority=warning", []string{"a4", "a2", "a1"}}, // at least
			{"priority=CRITICAL", []string{"a4"}},
			{"source=k8s_audit", []string{"a3", "a1"}},
			{"rule=Disallowed+K8s+User", []string{"a3"}},
			{"rule=Disallowed", []string{}}, // exact
			{"namespace=shop", []string{"a2", "a1"}},
			{"namespace=shop&pod=web", []string{"a2", "a1"}},
			{"session=s-2", []string{"a4"}},
			{"q=shadow", []string{"a2"}},
			{"q=50%25_", []string{"a2"}}, // % and _ are text, not patterns
			{"q=%25", []string{"a2"}},
			{"since=2026-12-02T10:00:01Z&until=2026-12-02T10:00:02Z", []string{"a3", "a2"}},
			{"user=alice&source=syscall", []string{"a4"}},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				v, _ := url.ParseQuery(tt.query)
				q, err := ParseQuery(v)
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.Alerts(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, ids(t, p)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				if p.Next != "" {
					t.Errorf("next = %q on the only page", p.Next)
				}
			})
		}
	})
}

// TestPaging walks the pages of two alerts each: every alert once, newest
// first, and "" after the last.
func TestPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		s := filled(t, fresh)
		var got []string
		q := Query{Limit: 2}
		for pages := 0; ; pages++ {
			p, err := s.Alerts(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(t, p)...)
			if p.Next == "" {
				if pages != 1 {
					t.Errorf("%d pages, want 2", pages+1)
				}
				break
			}
			q.Cursor = p.Next
		}
		if diff := cmp.Diff([]string{"a4", "a3", "a2", "a1"}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// q reads a bounded number of alerts a page: here two, so the
		// matches come over pages, short ones, until next is "".
		s.textScan = 2
		var pages [][]string
		for q := (Query{Text: "ALICE"}); ; {
			p, err := s.Alerts(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if pages = append(pages, ids(t, p)); p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		if diff := cmp.Diff([][]string{{"a4"}, {"a1"}, {}}, pages); diff != "" {
			t.Errorf("q pages (-want +got):\n%s", diff)
		}
	})
}

// TestInjection: a filter's value is data, whatever it holds; the table
// is intact after every attempt.
func TestInjection(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		s := filled(t, fresh)
		attempts := []string{`' OR '1'='1`, `x'; DROP TABLE alerts; --`, `" OR 1=1 --`, `%' OR 1=1 --`, `\`, `alice' --`}
		filters := []string{"source", "rule", "namespace", "pod", "user", "session", "q"}
		n := 0
		for _, f := range filters {
			for _, a := range attempts {
				n++
				q, err := ParseQuery(url.Values{f: {a}})
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.Alerts(context.Background(), q)
				if err != nil || len(p.Items) != 0 {
					t.Errorf("%s=%q: %d alerts, %v", f, a, len(p.Items), err)
				}
			}
		}
		if all, err := s.Alerts(context.Background(), Query{}); err != nil || len(all.Items) != len(fixture) {
			t.Errorf("after the attempts: %d alerts, %v", len(all.Items), err)
		}
		if n != 42 {
			t.Fatalf("%d attempts, want 42", n)
		}
	})
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct{ query, want string }{
		{"since=yesterday", `since: "yesterday" is not an RFC 3339 time`},
		{"until=2026-13-01T00:00:00Z", `until: "2026-13-01T00:00:00Z" is not an RFC 3339 time`},
		{"priority=loud", `priority: "loud" is not a priority (emergency ... debug)`},
		{"limit=0", `limit: "0" is not a number from 1 to 1000`},
		{"limit=1001", `limit: "1001" is not a number from 1 to 1000`},
		{"cursor=abc", `cursor: "abc" is not one this API gave`},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.query)
		if _, err := ParseQuery(v); err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v, want %s", tt.query, err, tt.want)
		}
	}
}

func TestRetention(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		s := filled(t, fresh)
		s.o.Retention = time.Hour
		s.retain(t0.Add(time.Hour + 1500*time.Millisecond)) // a1 and a2 are older than an hour then
		p, err := s.Alerts(context.Background(), Query{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a4", "a3"}, ids(t, p)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// TestFullQueueDrops: batches the writer cannot take are dropped and
// counted, never waited for.
func TestFullQueueDrops(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) { fullQueueDrops(t, fresh(t)) })
}

func fullQueueDrops(t *testing.T, o Options) {
	o.Log, o.Registry = slog.New(slog.DiscardHandler), prometheus.NewRegistry()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	for range queueBatches + 3 { // no writer running
		send(s, fixture[0])
		s.Flush()
	}
	if got := testutil.ToFloat64(s.metrics.dropped); got != 3 {
		t.Errorf("dropped = %v, want 3", got)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	s := open(t, Options{Path: newer})
	if _, err := s.db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Path: newer}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("newer schema: %v", err)
	}
	corrupt := filepath.Join(dir, "corrupt.db")
	os.WriteFile(corrupt, []byte("this is not a database, but it is long enough to look like a file of one"), 0o600)
	if _, err := Open(Options{Path: corrupt}); err == nil {
		t.Error("a corrupt file opened")
	} else {
		t.Logf("corrupt file: %v", err)
	}
	if _, err := Open(Options{Path: dir}); err == nil || err.Error() != "store: "+dir+" is a directory" {
		t.Errorf("a directory: %v", err)
	}
	t.Run("postgres", func(t *testing.T) {
		o := Options{URL: pgtest.Database(t)}
		s := open(t, o)
		if _, err := s.db.Exec(`UPDATE peregrine_schema SET version = 99`); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(o); !errors.Is(err, ErrNewerSchema) {
			t.Errorf("newer schema: %v", err)
		}
		bad := Options{URL: "postgres://peregrine:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}
		_, err := Open(bad)
		if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "postgres://peregrine:xxxxx@127.0.0.1:1/none") {
			t.Errorf("an unreachable server: %v (the error names the server without its password)", err)
		}
	})
}

// TestStreamSelectsAsQueries: a subscription gets, of the alerts stored
// after it starts, exactly those the same query finds in the store.
func TestStreamSelectsAsQueries(t *testing.T) {
	queries := []string{"", "user=alice", "priority=warning", "source=k8s_audit", "rule=Disallowed+K8s+User",
		"namespace=shop&pod=web", "session=s-2", "q=SHADOW", "q=50%25_", "since=2026-12-02T10:00:01Z&until=2026-12-02T10:00:02Z"}
	eachBackend(t, func(t *testing.T, fresh backend) { streamSelectsAsQueries(t, open(t, fresh(t)), queries) })
}

func streamSelectsAsQueries(t *testing.T, s *Store, queries []string) {
	subs := make([]*Subscription, len(queries))
	parsed := make([]Query, len(queries))
	for i, qs := range queries {
		v, _ := url.ParseQuery(qs)
		q, err := ParseQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		parsed[i], subs[i] = q, s.Subscribe(q)
		defer subs[i].Close()
	}
	for _, a := range fixture {
		send(s, a)
	}
	s.Flush()
	waitWritten(t, s, len(fixture))
	for i, sub := range subs {
		var streamed Page
		for len(sub.C) > 0 {
			streamed.Items = append(streamed.Items, <-sub.C)
		}
		stored, err := s.Alerts(context.Background(), parsed[i])
		if err != nil {
			t.Fatal(err)
		}
		want := ids(t, stored)
		slices.Reverse(want) // the stream is oldest first
		if diff := cmp.Diff(want, ids(t, streamed)); diff != "" {
			t.Errorf("%s: streamed (-stored +streamed):\n%s", queries[i], diff)
		}
	}
}

func TestSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		s := filled(t, fresh) // a2 and a4 were raised in sessions s-1 and s-2
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
		s.RecordSession(Session{ID: "s-1", User: "bob", Groups: []string{"devs"}, Namespace: "shop", Pod: "web",
			Command: []string{"sh"}, TTY: true, Time: at(0), Verdict: Allowed})
		s.RecordSession(Session{ID: "s-2", User: "alice", Namespace: "web", Pod: "front", Container: "app",
			Command: []string{"bash", "-l"}, Time: at(2), Verdict: Allowed})
		s.RecordSession(Session{ID: "s-3", User: "alice", Namespace: "shop", Pod: "web", Command: []string{"cat", "/etc/shadow"},
			Time: at(3), Verdict: Denied})
		s.RecordSession(Session{ID: "audit-9", User: "carol", Namespace: "shop", Pod: "db", Command: []string{"id"},
			Time: at(4), AuditID: "audit-9", Verdict: Unknown}) // no webhook: announced by its audit event
		s.ConfirmSession("s-2", "audit-2")
		waitSessions(t, s, 4)
		page, err := s.Sessions(context.Background(), SessionQuery{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		want := []Session{
			{ID: "s-3", User: "alice", Groups: []string{}, Namespace: "shop", Pod: "web", Command: []string{"cat", "/etc/shadow"},
				Time: at(3), Verdict: Denied},
			{ID: "s-2", User: "alice", Groups: []string{}, Namespace: "web", Pod: "front", Container: "app",
				Command: []string{"bash", "-l"}, Time: at(2), AuditID: "audit-2", Verdict: Allowed, Alerts: 1},
		}
		if diff := cmp.Diff(want, page.Items); diff != "" {
			t.Errorf("alice's sessions (-want +got):\n%s", diff)
		}
		var all []string
		for q := (SessionQuery{Limit: 3}); ; {
			p, err := s.Sessions(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range p.Items {
				all = append(all, x.ID)
			}
			if q.Cursor = p.Next; q.Cursor == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{"audit-9", "s-3", "s-2", "s-1"}, all); diff != "" {
			t.Errorf("every session, two pages (-want +got):\n%s", diff)
		}
		one, err := s.SessionByID(context.Background(), "s-1")
		if err != nil || one.Session.User != "bob" || !one.Session.TTY || len(one.Alerts) != 1 {
			t.Errorf("s-1: %+v, %v", one, err)
		}
		if _, err := s.SessionByID(context.Background(), "nope"); !errors.Is(err, ErrNoSession) {
			t.Errorf("an unknown session: %v", err)
		}
	})
}

func waitSessions(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var got int
		s.db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE id != 's-2' OR auditid != ''`).Scan(&got)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions written, want %d", got, n)
		}
	}
}

// TestKeptAsJSON: with outputs that write text, the store renders the
// JSON itself; with outputs that write JSON, it keeps their line.
func TestKeptAsJSON(t *testing.T) {
	for _, jsonOutputs := range []bool{false, true} {
		f := output.DefaultFormat()
		f.JSON = jsonOutputs
		s, err := Open(Options{Path: filepath.Join(t.TempDir(), "p.db"), Format: f, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		s.Send(context.Background(), fixture[0].Line(f), fixture[0])
		if got, want := s.pending[0].json, strings.TrimSuffix(string(fixture[0].Line(output.DefaultFormat())), "\n"); got != want {
			t.Errorf("JSON outputs %v: kept %s, want %s", jsonOutputs, got, want)
		}
		s.Release()
	}
}

// TestMigrateKeepsAlerts: a database of schema 2 (absent values as empty
// strings) is brought to the current schema with its alerts, which the
// queries then find as before; absent values are NULL.
func TestMigrateKeepsAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for v, m := range sqliteMigrations[:2] {
		if _, err := db.Exec(m); err != nil {
			t.Fatalf("schema %d: %v", v+1, err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 2`); err != nil {
		t.Fatal(err)
	}
	for _, a := range fixture {
		r := rowOf(a, a.Line(output.DefaultFormat()))
		if _, err := db.Exec(insertAlert, r.uuid, r.time, r.rule, r.priority, r.source, r.namespace, r.pod, r.user,
			r.execUser, r.session, r.output, r.json); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t, Options{Path: path})
	var version, empty int
	s.db.QueryRow(`PRAGMA user_version`).Scan(&version)
	s.db.QueryRow(`SELECT COUNT(*) FROM alerts WHERE '' IN (namespace, pod, user, exec_user, session)`).Scan(&empty)
	if version != len(sqliteMigrations) || empty != 0 {
		t.Errorf("schema %d, %d rows with empty values; want %d, 0", version, empty, len(sqliteMigrations))
	}
	for qs, want := range map[string]int{"": 4, "user=alice": 2, "namespace=shop": 2, "namespace=shop&pod=web": 2,
		"session=s-1": 1, "rule=Disallowed+K8s+User": 1, "user=carol": 0} {
		v, _ := url.ParseQuery(qs)
		q, _ := ParseQuery(v)
		page, err := s.Alerts(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", qs, err)
		}
		if len(page.Items) != want {
			t.Errorf("%q: %d alerts, want %d", qs, len(page.Items), want)
		}
	}
}

// TestStats: counts by step and priority, oldest first, and by rule, the
// filters applied as the alert queries apply them.
func TestStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		s := filled(t, fresh)
		tests := []struct {
			query string
			want  Stats
		}{
			{"step=2s", Stats{Step: "2s", Buckets: []Bucket{
				{Time: t0, Counts: map[string]int{"Warning": 2}, Rules: map[string]int{"Create Privileged Pod": 1, "Read sensitive file untrusted": 1}},
				{Time: t0.Add(2 * time.Second), Counts: map[string]int{"Notice": 1, "Critical": 1},
					Rules: map[string]int{"Disallowed K8s User": 1, "Terminal shell in container": 1}}},
				Rules: []Count{{"Create Privileged Pod", 1}, {"Disallowed K8s User", 1}, {"Read sensitive file untrusted", 1}, {"Terminal shell in container", 1}}}},
			{"step=1m&user=alice", Stats{Step: "1m0s", Buckets: []Bucket{{Time: t0, Counts: map[string]int{"Warning": 1, "Critical": 1},
				Rules: map[string]int{"Create Privileged Pod": 1, "Terminal shell in container": 1}}},
				Rules: []Count{{"Create Privileged Pod", 1}, {"Terminal shell in container", 1}}}},
			{"user=nobody&since=2026-12-02T09:00:00Z&until=2026-12-02T11:00:00Z", Stats{Step: "2m0s", Buckets: []Bucket{}, Rules: []Count{}}},
		}
		for _, tt := range tests {
			v, _ := url.ParseQuery(tt.query)
			q, err := ParseQuery(v)
			if err != nil {
				t.Fatal(err)
			}
			step, err := ParseStep(v, q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Stats(context.Background(), q, step)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.query, diff)
			}
		}
		if _, err := ParseStep(url.Values{"step": {"1ms"}}, Query{}); err == nil || err.Error() != `step: "1ms" is not a duration of a second or more` {
			t.Errorf("step=1ms: %v", err)
		}
		// Beyond the most frequent rules, the chart counts the others together.
		for i := range 6 {
			a := *fixture[0]
			a.ID, a.Rule = fmt.Sprintf("z%d", i), fmt.Sprintf("Zeta %d", i)
			send(s, &a)
		}
		s.Flush()
		waitWritten(t, s, len(fixture)+6)
		st, err := s.Stats(context.Background(), Query{}, time.Hour)
		if err != nil || len(st.Buckets) != 1 || len(st.Buckets[0].Rules) != chartRules+1 || st.Buckets[0].Rules[OtherRules] != 2 {
			t.Errorf("ten rules in one bucket: %+v %v", st.Buckets, err)
		}
		hits, err := s.RuleHits(context.Background())
		if err != nil || hits["Disallowed K8s User"] != 1 || hits["Zeta 5"] != 1 || len(hits) != 10 {
			t.Errorf("rule hits: %v %v", hits, err)
		}
	})
}

// TestWriteFailuresAreCounted: writes that fail (the table gone, the
// database locked by another writer past the busy timeout) are logged
// and counted, lose only their batch, and never hold up the sender; the
// store writes again once the database does.
func TestWriteFailuresAreCounted(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		o := fresh(t)
		s := open(t, o)
		driver, dsn := "sqlite", "file:"+o.Path
		if o.URL != "" {
			driver, dsn = "pgx", o.URL
		}
		other, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		failing := func(name, breakSQL, repairSQL string) {
			if _, err := other.Exec(breakSQL); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			before, errs := testutil.ToFloat64(s.metrics.written), testutil.ToFloat64(s.metrics.errors)
			start := time.Now()
			send(s, fixture[0])
			s.Flush()
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("%s: sending took %s", name, d)
			}
			for deadline := time.Now().Add(15 * time.Second); testutil.ToFloat64(s.metrics.errors) == errs; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: no write error counted", name)
				}
			}
			if _, err := other.Exec(repairSQL); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			send(s, fixture[1])
			s.Flush()
			waitWritten(t, s, int(before)+1)
		}
		failing("table gone", `ALTER TABLE alerts RENAME TO gone`, `ALTER TABLE gone RENAME TO alerts`)
		if o.URL == "" {
			other.SetMaxOpenConns(1) // the lock is the connection's
			failing("database locked", `BEGIN EXCLUSIVE`, `COMMIT`)
		}
	})
}

// TestBinding: a session's binding as agents report it: bound (the first
// report kept), pending within the window, unbound after it or when
// refused.
func TestBinding(t *testing.T) {
	eachBackend(t, func(t *testing.T, fresh backend) {
		o := fresh(t)
		o.SessionWindow = time.Minute
		s := open(t, o)
		now := time.Now().UTC().Truncate(time.Microsecond)
		s.RecordSession(Session{ID: "b-1", User: "alice", Namespace: "shop", Pod: "web", Command: []string{"sh"}, Time: now, Verdict: Allowed})
		s.RecordSession(Session{ID: "b-2", User: "alice", Namespace: "shop", Pod: "web", Command: []string{"sh"}, Time: now, Verdict: Allowed})
		s.RecordSession(Session{ID: "b-3", User: "bob", Namespace: "shop", Pod: "web", Command: []string{"sh"}, Time: now.Add(-time.Hour), Verdict: Allowed})
		s.RecordSession(Session{ID: "b-4", User: "bob", Namespace: "prod", Pod: "db", Command: []string{"sh"}, Time: now, Verdict: Denied})
		b1 := Session{ID: "b-1", User: "alice", Namespace: "shop", Pod: "web", Command: []string{"sh"}, Time: now, Verdict: Allowed}
		s.BindSession(b1, "abc123", now.Add(time.Second), true)
		s.BindSession(b1, "later", now.Add(2*time.Second), false)
		// A session another replica announced: known here by its binding.
		b5 := Session{ID: "b-5", User: "carol", Groups: []string{"sre"}, Namespace: "shop", Pod: "db", Command: []string{"id"},
			Time: now, Verdict: Allowed}
		s.BindSession(b5, "def456", now.Add(time.Second), false)
		bound := now.Add(time.Second)
		want := map[string]SessionBinding{
			"b-1": {State: Bound, ContainerID: "abc123", Time: &bound, Ambiguous: true},
			"b-2": {State: Pending}, "b-3": {State: Unbound}, "b-4": {State: Unbound},
			"b-5": {State: Bound, ContainerID: "def456", Time: &bound},
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got := map[string]SessionBinding{}
			for id := range want {
				got[id], _ = s.Binding(context.Background(), id)
			}
			diff := cmp.Diff(want, got)
			if diff == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bindings (-want +got):\n%s", diff)
			}
		}
		if _, err := s.Binding(context.Background(), "nope"); !errors.Is(err, ErrNoSession) {
			t.Errorf("an unknown session: %v", err)
		}
		x, err := s.SessionByID(context.Background(), "b-5")
		if want := (Session{ID: "b-5", User: "carol", Groups: []string{"sre"}, Namespace: "shop", Pod: "db", Command: []string{"id"},
			Time: now, Verdict: Allowed}); err != nil || !cmp.Equal(want, x.Session) {
			t.Errorf("the session known by its binding: %+v %v", x.Session, err)
		}
	})
}
