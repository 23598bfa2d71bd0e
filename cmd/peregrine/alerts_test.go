package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/store"
)

// storeFile writes a store file holding alerts raised by alice and bob.
func storeFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "peregrine.db")
	s, err := store.Open(store.Options{Path: path, Format: output.DefaultFormat(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i, user := range []string{"alice", "bob", "alice"} {
		a := &output.Alert{ID: "id-" + user, Time: t0.Add(time.Duration(i) * time.Second), Rule: "Shell", Priority: rules.Warning,
			Source: "syscall", Message: "shell by " + user, OutputFields: map[string]any{"k8s.exec.user": user}}
		s.Send(ctx, a.Line(output.DefaultFormat()), a)
	}
	s.Flush()
	cancel() // the writer commits what is queued, then closes the file
	<-done
	return path
}

func runAlerts(t *testing.T, args ...string) (string, string, error) {
	c := alertsCmd()
	var out, errOut bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&errOut)
	c.SetArgs(args)
	err := c.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestAlertsFromFile(t *testing.T) {
	db := storeFile(t)
	out, more, err := runAlerts(t, "--db", db, "--user", "alice", "--format", "text", "--limit", "1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "10:00:02.000000000: Warning shell by alice\n"; out != want { // the newest
		t.Errorf("out = %q, want %q", out, want)
	}
	if !strings.HasPrefix(more, "peregrine: more alerts: add --cursor ") {
		t.Errorf("stderr = %q", more)
	}
	if _, _, err := runAlerts(t, "--db", db, "--priority", "loud"); err == nil || err.Error() != `priority: "loud" is not a priority (emergency ... debug)` {
		t.Errorf("bad filter: %v", err)
	}
}

// TestAlertsFromServer: the filters go to the API as its query
// parameters, and the page comes back as JSON lines.
func TestAlertsFromServer(t *testing.T) {
	var asked, bearer string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked, bearer = r.URL.Path+"?"+r.URL.RawQuery, r.Header.Get("Authorization")
		w.Write([]byte(`{"items":[{"rule":"Shell","uuid":"u1"}],"next":""}`))
	}))
	defer api.Close()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("reader-token\n"), 0o600)
	out, _, err := runAlerts(t, "--server", api.URL, "--token-file", token, "--user", "alice", "--since", "2026-12-02T10:00:00Z", "--limit", "5")
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "Bearer reader-token" {
		t.Errorf("Authorization: %q", bearer)
	}
	if want := "/api/v1/alerts?limit=5&since=2026-12-02T10%3A00%3A00Z&user=alice"; asked != want {
		t.Errorf("asked %s, want %s", asked, want)
	}
	if out != `{"rule":"Shell","uuid":"u1"}`+"\n" {
		t.Errorf("out = %q", out)
	}
}

func TestSessionsFromFile(t *testing.T) {
	db := storeFile(t)
	s, err := store.Open(store.Options{Path: db, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()
	s.RecordSession(store.Session{ID: "s-1", User: "alice", Namespace: "shop", Pod: "web", Container: "app",
		Command: []string{"sh", "-c", "id"}, Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Verdict: store.Denied})
	cancel()
	<-done
	c := sessionsCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetArgs([]string{"--db", db, "--user", "alice", "--format", "text"})
	if err := c.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := "2026-12-02T10:00:00Z alice shop/web app \"sh -c id\" denied alerts=0\n"; out.String() != want {
		t.Errorf("out = %q, want %q", out.String(), want)
	}
}
