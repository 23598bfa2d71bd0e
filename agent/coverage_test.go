package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/runtime"
)

// TestUpstreamCoverage checks that the probe captures every event type
// Falco's stable and incubating rules name: a rules update that needs
// more shows up here.
func TestUpstreamCoverage(t *testing.T) {
	l := rules.NewLoader(fields.Syscall())
	for _, name := range []string{"falco_rules.yaml", "falco-incubating_rules.yaml"} {
		b, err := os.ReadFile(filepath.Join(conformance.Dir(t), "rules", name))
		if err != nil {
			t.Fatal(err)
		}
		if res := l.Load(name, string(b)); !res.Successful {
			t.Fatalf("%s: %v", name, res.Errors)
		}
	}
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuleMatching = "all"
	eng, err := NewEngine(l.Set(), cfg, runtime.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), uncaptured(eng.Rules())); diff != "" {
		t.Errorf("uncaptured event types (-want +got):\n%s", diff)
	}
}
