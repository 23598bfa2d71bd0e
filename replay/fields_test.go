package replay

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

// TestFieldsAsFalco: the fields a side-by-side run with Falco found
// rendered otherwise (issue 18), on a capture the agent recorded of
// testdata/falco_fields.sh (a read through "..", sh run through
// /usr/bin/sh from /tmp, a program run from /dev/shm), replayed with the
// upstream stable and incubating rules. The expected values follow
// libsinsp's field descriptions (conformance/fields/libsinsp_fields.json):
// fd.name is the full path, fd.nameraw the path "kept raw ... without
// deriving the absolute path"; proc.exepath "resolving to the canonical
// path for symlinks"; evt.arg.flags of an execve names the exe flags;
// proc.cwd ends with a slash, as libsinsp keeps working directories.
func TestFieldsAsFalco(t *testing.T) {
	dir := filepath.Join(conformance.Dir(t), "rules")
	out, errs, err := run(t, Options{RulesFiles: []string{filepath.Join(dir, "falco_rules.yaml"),
		filepath.Join(dir, "falco-incubating_rules.yaml"), "testdata/falco_fields_rules.yaml"},
		SyscallFiles: []string{"testdata/falco_fields.jsonl"}})
	if err != nil || errs != "" {
		t.Fatalf("%v %s", err, errs)
	}
	want := map[string]map[string]any{
		"Directory traversal monitored file read": {"fd.name": "/etc/shadow", "fd.nameraw": "/etc/../etc/../etc/shadow"},
		"Read sensitive file untrusted":           {"fd.name": "/etc/shadow", "proc.exepath": "/usr/bin/cat", "proc.pname": "sh"},
		"Execution from /dev/shm": {"evt.arg.flags": "EXE_WRITABLE", "proc.exepath": "/dev/shm/pg-trigger-true",
			"proc.cwd": "/tmp/"},
		"Shell run through a symlink": {"proc.exepath": "/usr/bin/dash", "proc.exe": "/usr/bin/sh", "proc.cwd": "/tmp/"},
	}
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a struct {
			Rule         string
			OutputFields map[string]any `json:"output_fields"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if _, dup := got[a.Rule]; dup {
			t.Errorf("%s twice", a.Rule)
		}
		got[a.Rule] = map[string]any{}
		for f := range want[a.Rule] {
			got[a.Rule][f] = a.OutputFields[f]
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts' fields (-want +got):\n%s", diff)
	}
}
