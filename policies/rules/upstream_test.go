package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

// upstreamFiles are Falco's published rule files, in the order they load;
// the gke file appends to k8s_audit_rules.yaml.
var upstreamFiles = [][]string{
	{"falco_rules.yaml"},
	{"falco-incubating_rules.yaml"},
	{"falco-sandbox_rules.yaml"},
	{"falco-deprecated_rules.yaml"},
	{"k8s_audit_rules.yaml", "k8s_audit_rules_gke.yaml"},
}

func readUpstream(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformance.Dir(t), "rules", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUpstreamRuleFiles loads every upstream file with zero errors.
func TestUpstreamRuleFiles(t *testing.T) {
	for _, group := range upstreamFiles {
		l := newTestLoader()
		for _, name := range group {
			res := l.Load(name, readUpstream(t, name))
			if !res.Successful || len(res.Errors) > 0 {
				t.Errorf("%s: %d errors:%s", name, len(res.Errors), describe([]*Result{res}))
			}
		}
		if len(l.Set().Rules) == 0 {
			t.Errorf("%v: no rules compiled", group)
		}
	}
}
