package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/webhook"
)

func run(t *testing.T, o Options) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	o.Out, o.Err, o.Hostname = &out, &errb, "h"
	err := Run(context.Background(), o)
	return out.String(), errb.String(), err
}

// TestReplayJSONLines: alerts in Falco's JSON, one per line; a malformed
// line is reported with its position and the rest still evaluated.
func TestReplayJSONLines(t *testing.T) {
	out, errs, err := run(t, Options{AuditFiles: []string{"testdata/lines.jsonl"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hostname":"h","output":"03:04:05.500000000: Notice Exec or attach into a pod (user=bob pod=p ns=a action=attach command=<NA>)",` +
		`"priority":"Notice","rule":"Exec or attach into a pod","source":"k8s_audit","tags":["T1609","k8s","mitre_execution"],` +
		`"time":"2026-01-02T03:04:05.500000000Z","output_fields":{"evt.time":1767323045500000000,"ka.target.name":"p",` +
		`"ka.target.namespace":"a","ka.target.subresource":"attach","ka.uri.param[command]":null,"ka.user.name":"bob"}}` + "\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	wantErr := "peregrine: testdata/lines.jsonl: line 2: malformed JSON: cannot parse object: cannot find opening '\"\" for object key; unparsed tail: \"broken\" (skipped)\n"
	if diff := cmp.Diff(wantErr, errs); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestReplayTextAndStdin(t *testing.T) {
	sample, err := os.ReadFile("../audit/testdata/sample-events.json")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, Options{AuditFiles: []string{"-"}, Format: "text", In: bytes.NewReader(sample)})
	if err != nil {
		t.Fatal(err)
	}
	want := "09:00:00.012345000: Warning Privileged or host-namespace pod created (user=mallory pod=debug ns=shop images=(busybox:1.37) hostNetwork=<NA> hostPID=true hostIPC=<NA>)\n" +
		"09:00:05.003000000: Notice Exec or attach into a pod (user=alice pod=web-0 ns=shop action=exec command=sh)\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

func TestReplayErrors(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{AuditFiles: []string{"testdata/missing.json"}}, "replay: open testdata/missing.json: no such file or directory"},
		{Options{AuditFiles: []string{"-"}, Format: "yaml", In: strings.NewReader("")}, `unknown format "yaml" (want json or text)`},
		{Options{RulesFiles: []string{"testdata/lines.jsonl"}, AuditFiles: []string{"-"}}, "invalid rules"},
	} {
		_, _, err := run(t, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%+v) = %v, want %q", tt.o, err, tt.want)
		}
	}
}

// TestReplayAdmission: per request a decision line with every key, then
// its alerts; a malformed line is reported and skipped.
func TestReplayAdmission(t *testing.T) {
	out, errs, err := run(t, Options{AdmissionFiles: []string{"testdata/reviews.jsonl"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), out)
	}
	want := []string{
		`{"decision":{"uid":"u-1","allowed":false,"rule":"Deny privileged container","message":"denied by Peregrine: Deny privileged container: Privileged container refused (user=alice pod=priv ns=shop images=(nginx:1.27))","warnings":[]}}`,
		`{"decision":{"uid":"u-2","allowed":false,"rule":"Deny exec into a protected namespace","message":"denied by Peregrine: Deny exec into a protected namespace: Exec into a protected namespace refused (user=bob groups=(ops) pod=db-0 ns=production container=db command=psql)","warnings":[]}}`,
	}
	if diff := cmp.Diff(want, []string{lines[0], lines[2]}); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	for _, l := range []string{lines[1], lines[3]} {
		if !strings.Contains(l, `"source":"k8s_admission"`) || !strings.Contains(l, `"adm.verdict":"deny"`) {
			t.Errorf("alert line %s", l)
		}
	}
	if !strings.Contains(errs, "reviews.jsonl: line 3: malformed AdmissionReview") {
		t.Errorf("stderr %q", errs)
	}
	out, _, _ = run(t, Options{AdmissionFiles: []string{"testdata/reviews.jsonl"}, Admission: webhook.Policy{Mode: webhook.Warn}})
	if !strings.Contains(out, `"allowed":true,"rule":"Deny privileged container","message":"","warnings":["Deny privileged container: `) {
		t.Errorf("warn mode:\n%s", out)
	}
}

// TestReplaySyscalls replays a capture recorded by peregrine agent
// --record (trimmed and anonymised) through Falco's stable rules.
func TestReplaySyscalls(t *testing.T) {
	rulesFile := filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml")
	out, errs, err := run(t, Options{RulesFiles: []string{rulesFile}, SyscallFiles: []string{"testdata/capture.jsonl"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var rulesSeen []string
	for _, l := range lines {
		var a struct{ Rule string }
		json.Unmarshal([]byte(l), &a)
		rulesSeen = append(rulesSeen, a.Rule)
	}
	if diff := cmp.Diff([]string{"Read sensitive file untrusted", "Terminal shell in container"}, rulesSeen); diff != "" {
		t.Errorf("alerts (-want +got):\n%s\n%s", diff, out)
	}
	if !strings.Contains(lines[1], `"container.id":"0123456789ab"`) || !strings.Contains(lines[0], `"fd.name":"/etc/shadow"`) {
		t.Errorf("alerts:\n%s", out)
	}
	if !strings.Contains(errs, "capture.jsonl: line 34:") {
		t.Errorf("stderr %q", errs)
	}
}

// TestReplayNetworkCapture replays what the agent recorded of
// bpf/testdata/netcalls and agent/testdata/memfdexec: the socket rules see
// both ends of each connection and the fd table's dup, offline as live.
func TestReplayNetworkCapture(t *testing.T) {
	rulesFiles := []string{filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml"),
		filepath.Join("..", "agent", "testdata", "network_rules.yaml")}
	out, errs, err := run(t, Options{RulesFiles: rulesFiles, SyscallFiles: []string{"testdata/network.jsonl"}})
	if err != nil || errs != "" {
		t.Fatalf("%v %s", err, errs)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var a struct {
			Rule         string
			OutputFields map[string]any `json:"output_fields"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(a.Rule, " ", a.OutputFields["fd.name"]))
	}
	want := []string{
		"Listening 127.0.0.1:35487",
		"Connected 127.0.0.1:60768->127.0.0.1:35487",
		"Accepted 127.0.0.1:60768->127.0.0.1:35487",
		"Socket duplicated 127.0.0.1:60768->127.0.0.1:35487",
		"Datagram sent 0.0.0.0:55217->127.0.0.2:9",
		"Exec through a descriptor call <nil>",
		"Fileless execution via memfd_create <nil>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestReplayDebugContainer: kubectl debug's patch of
// pods/ephemeralcontainers is reported when it succeeded, not when
// admission refused it.
func TestReplayDebugContainer(t *testing.T) {
	out, _, err := run(t, Options{AuditFiles: []string{"testdata/debug.jsonl"}, Format: "text"})
	if err != nil {
		t.Fatal(err)
	}
	want := "10:15:02.118000000: Notice Debug container added to a pod (user=alice pod=web-0 ns=shop images=(busybox:1.36))\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}
