package audit

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/session"
)

func TestExecSession(t *testing.T) {
	const base = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a-1","stage":"%s",` +
		`"requestURI":"/api/v1/namespaces/shop/pods/web/exec?command=sh&command=-c&command=id&container=app&stdin=true",` +
		`"verb":"create","user":{"username":"alice","groups":["devs","system:authenticated"]},` +
		`"objectRef":{"resource":"pods","namespace":"shop","name":"web","subresource":"exec"},` +
		`"responseStatus":{"code":%d},"requestReceivedTimestamp":"2026-11-28T12:00:00.000001Z",` +
		`"stageTimestamp":"2026-11-28T12:00:09Z"%s}`
	tests := []struct {
		name          string
		stage         string
		code          int
		annotations   string
		wantAnn       session.Announcement
		wantConf      session.Confirmation
		confirmed, ok bool
	}{
		{"no webhook: announced late", "ResponseComplete", 101, "",
			session.Announcement{ID: "a-1", AuditID: "a-1", User: "alice", Groups: []string{"devs", "system:authenticated"},
				Namespace: "shop", Pod: "web", Container: "app", Command: []string{"sh", "-c", "id"},
				Time: time.Date(2026, 11, 28, 12, 0, 0, 1000, time.UTC), Late: true},
			session.Confirmation{}, false, true},
		{"the webhook's session confirmed", "ResponseStarted", 101, `,"annotations":{"peregrine.dev/request-id":"s-9"}`,
			session.Announcement{}, session.Confirmation{ID: "s-9", AuditID: "a-1"}, true, true},
		{"refused", "ResponseComplete", 403, "", session.Announcement{}, session.Confirmation{}, false, false},
		{"not yet authorized", "RequestReceived", 0, "", session.Announcement{}, session.Confirmation{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := NewEvent([]byte(fmt.Sprintf(base, tt.stage, tt.code, tt.annotations)))
			if err != nil {
				t.Fatal(err)
			}
			ann, conf, confirmed, ok := ExecSession(ev)
			if diff := cmp.Diff(tt.wantAnn, ann); diff != "" {
				t.Errorf("announcement (-want +got):\n%s", diff)
			}
			if conf != tt.wantConf || confirmed != tt.confirmed || ok != tt.ok {
				t.Errorf("got %+v %v %v, want %+v %v %v", conf, confirmed, ok, tt.wantConf, tt.confirmed, tt.ok)
			}
		})
	}
}

// TestDebugSession: kubectl debug's patch of pods/ephemeralcontainers
// announces, without a webhook, a debug session for the container the
// patch adds; with the webhook's annotation it confirms that session.
func TestDebugSession(t *testing.T) {
	const base = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a-2","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/shop/pods/web/ephemeralcontainers","verb":"patch",` +
		`"user":{"username":"alice","groups":["devs"]},` +
		`"objectRef":{"resource":"pods","namespace":"shop","name":"web","subresource":"ephemeralcontainers"},` +
		`"responseStatus":{"code":%d},"requestReceivedTimestamp":"2026-11-28T12:00:00Z","stageTimestamp":"2026-11-28T12:00:01Z",` +
		`"requestObject":{"spec":{"ephemeralContainers":[{"name":"debugger-p2","image":"busybox:1.36","command":["sh"],` +
		`"stdin":true,"tty":true,"targetContainerName":"app"}]}}%s}`
	read := func(code int, annotations string) (session.Announcement, session.Confirmation, bool, bool) {
		ev, err := NewEvent([]byte(fmt.Sprintf(base, code, annotations)))
		if err != nil {
			t.Fatal(err)
		}
		return ExecSession(ev)
	}
	ann, _, confirmed, ok := read(200, "")
	want := session.Announcement{ID: "a-2", AuditID: "a-2", User: "alice", Groups: []string{"devs"}, Namespace: "shop", Pod: "web",
		Container: "debugger-p2", Command: []string{"sh"}, TTY: true, Kind: session.KindDebug,
		Time: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Late: true}
	if diff := cmp.Diff(want, ann); diff != "" || confirmed || !ok {
		t.Errorf("late: confirmed %v ok %v (-want +got):\n%s", confirmed, ok, diff)
	}
	if _, _, _, ok := read(422, ""); ok {
		t.Error("a refused patch announced a session")
	}
	if _, conf, confirmed, ok := read(200, `,"annotations":{"peregrine.dev/request-id":"s-7"}`); !confirmed || !ok ||
		conf != (session.Confirmation{ID: "s-7", AuditID: "a-2"}) {
		t.Errorf("with the webhook's annotation: %+v %v %v, want s-7 confirmed with a-2", conf, confirmed, ok)
	}
}
