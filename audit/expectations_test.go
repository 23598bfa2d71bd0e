package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

type expectations struct {
	ExtraRuleFiles map[string]struct{ File, YAML string } `json:"extra_rule_files"`
	Tests          []struct {
		Test            string
		Fixture         string
		Rules           []string
		PriorityPresent []string       `json:"priority_present"`
		RuleCounts      map[string]int `json:"rule_counts"`
		ZeroDetections  bool           `json:"zero_detections"`
	}
}

// newEngine loads rule files (name, content) and compiles the k8s_audit rules.
func newEngine(t testing.TB, files [][2]string) *engine.Engine[Event] {
	t.Helper()
	l := rules.NewLoader(fields.Syscall(), fields.K8sAudit())
	for _, f := range files {
		if res := l.Load(f[0], f[1]); !res.Successful {
			t.Fatalf("%s: %v", f[0], res.Errors)
		}
	}
	e, err := engine.New[Event](&Source{}, fields.K8sAudit(), l.Set(), engine.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestK8sAuditExpectations replays every fixture of Falco's k8saudit
// regression tests and checks the alerts: exact counts per rule, the
// priorities present, and silence where none is expected.
func TestK8sAuditExpectations(t *testing.T) {
	var exp expectations
	conformance.Load(t, "k8saudit/expectations.json", &exp)
	dir := conformance.Dir(t)
	auditRules, err := os.ReadFile(filepath.Join(dir, "rules", "k8s_audit_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// 66 cases; 19 of them assert nothing upstream but a clean run (rules
	// load, the fixture reads without error, Falco exits 0): that is what
	// they check here too, as newEngine and replayFixture fail otherwise.
	cleanRunOnly := 0
	for _, tc := range exp.Tests {
		if len(tc.RuleCounts) == 0 && len(tc.PriorityPresent) == 0 && !tc.ZeroDetections {
			cleanRunOnly++
		}
	}
	if len(exp.Tests) != 66 || cleanRunOnly != 19 {
		t.Fatalf("%d cases, %d of them a clean run only; want the corpus's 66 and 19", len(exp.Tests), cleanRunOnly)
	}
	for _, tc := range exp.Tests {
		t.Run(strings.TrimPrefix(tc.Test, "TestK8SAudit_Legacy_"), func(t *testing.T) {
			var files [][2]string
			for _, r := range tc.Rules {
				switch r {
				case "LegacyFalcoRules_v1_0_1": // syscall rules: no effect on k8s_audit
				case "K8SAuditRules":
					files = append(files, [2]string{"k8s_audit_rules.yaml", string(auditRules)})
				default:
					x, ok := exp.ExtraRuleFiles[r]
					if !ok {
						t.Fatalf("unknown rule file %s", r)
					}
					files = append(files, [2]string{x.File, x.YAML})
				}
			}
			e := newEngine(t, files)
			counts, prios := replayFixture(t, e, filepath.Join(dir, "k8saudit", "fixtures", tc.Fixture))
			for rule, want := range tc.RuleCounts {
				if counts[rule] != want {
					t.Errorf("rule %q: %d alerts, want %d (all: %v)", rule, counts[rule], want, counts)
				}
			}
			for _, p := range tc.PriorityPresent {
				if !prios[strings.ToUpper(p)] {
					t.Errorf("no alert of priority %s (all: %v)", p, counts)
				}
			}
			if tc.ZeroDetections && len(counts) > 0 {
				t.Errorf("alerts %v, want none", counts)
			}
		})
	}
}

// malformed are the fixtures' events that are not audit events, and the
// reason each is skipped with. fal_01_003.json is {"kind": 0}, from
// Falco's security audit (FAL-01-003, a crash on it): upstream asserts a
// clean run, no crash; Peregrine also says why it skipped it.
var malformed = map[string][]string{"fal_01_003.json": {"line 1: event 0: kind 0 is not an audit Event"}}

func replayFixture(t *testing.T, e *engine.Engine[Event], path string) (map[string]int, map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	counts, prios := map[string]int{}, map[string]bool{}
	var skipped []string
	err = Stream(bytes.NewReader(data), func(ev *Event) error {
		for _, r := range e.Match(ev, nil) {
			counts[r.Name]++
			prios[strings.ToUpper(r.Priority.String())] = true
			if r.Priority.String() == "Informational" {
				prios["INFO"] = true
			}
		}
		return nil
	}, func(err error) { skipped = append(skipped, err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(malformed[filepath.Base(path)], skipped); diff != "" {
		t.Errorf("events skipped as malformed (-want +got):\n%s", diff)
	}
	return counts, prios
}

func TestDecodeShapes(t *testing.T) {
	ev := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1","stage":"ResponseComplete","verb":"get"}`
	tests := []struct {
		name, in string
		want     int
		err      string
	}{
		{"event", ev, 1, ""},
		{"eventlist", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + ev + `,` + ev + `]}`, 2, ""},
		{"array", `[` + ev + `,` + ev + `,` + ev + `]`, 3, ""},
		{"json lines", ev + "\n" + ev + "\n", 2, ""},
		{"empty", "  ", 0, "no audit event in the input"},
		{"not json", "{nope", 0, `malformed JSON: cannot parse object: cannot find opening '"" for object key; unparsed tail: "nope"`},
		{"wrong kind", `{"kind":"Pod"}`, 0, `event 0: kind "Pod" is not an audit Event`},
		{"wrong version", `{"kind":"EventList","apiVersion":"v1","items":[]}`, 0, `apiVersion "v1" is not audit.k8s.io/v1 or v1beta1`},
		{"no items", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1"}`, 0, "EventList has no items array"},
		{"scalar", `42`, 0, "expected an audit Event or EventList object, got number"},
		{"bad line", ev + "\n{\n", 1, `line 2: malformed JSON: cannot parse object: missing '}'; unparsed tail: ""`},
	}
	for _, tt := range tests {
		evs, err := DecodeBatch([]byte(tt.in))
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if diff := cmp.Diff(tt.err, gotErr); diff != "" {
			t.Errorf("%s: error (-want +got):\n%s", tt.name, diff)
		}
		if len(evs) != tt.want {
			t.Errorf("%s: %d events, want %d", tt.name, len(evs), tt.want)
		}
	}
}
