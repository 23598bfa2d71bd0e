package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

type loaderStep struct {
	File              string            `json:"file"`
	RulesYAML         string            `json:"rules_yaml"`
	ExpectSuccess     bool              `json:"expect_success"`
	CompiledCondition map[string]string `json:"compiled_condition"`
	// CompiledOutput is only set by three cases of Falco's
	// test_extra_output.cpp: append_output is the configuration's and is
	// compiled by the engine, so runtime's TestAppendOutputConformance
	// checks them, with the configuration those cases set.
	CompiledOutput     map[string]string `json:"compiled_output"`
	ErrorsContain      []string          `json:"errors_contain"`
	WarningsContain    []string          `json:"warnings_contain"`
	WarningsNotContain []string          `json:"warnings_not_contain"`
	ExpectHasWarnings  bool              `json:"expect_has_warnings"`
}

func newTestLoader() *Loader { return NewLoader(fields.Syscall(), fields.K8sAudit()) }

func messages(issues []Issue) []string {
	var out []string
	for _, is := range issues {
		out = append(out, is.Message)
	}
	return out
}

func containsSub(msgs []string, sub string) bool {
	return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, sub) })
}

// TestLoaderConformance runs Falco's rule-loader unit cases.
func TestLoaderConformance(t *testing.T) {
	var corpus struct {
		Cases []struct {
			Test  string       `json:"test"`
			Steps []loaderStep `json:"steps"`
		}
	}
	conformance.Load(t, "loader_cases.json", &corpus)
	if len(corpus.Cases) != 108 {
		t.Fatalf("%d cases in loader_cases.json, want the corpus's 108", len(corpus.Cases))
	}
	for _, c := range corpus.Cases {
		t.Run(strings.TrimPrefix(c.Test, "test_rule_loader.cpp:"), func(t *testing.T) {
			l := newTestLoader()
			for _, st := range c.Steps {
				checkStep(t, l, st)
			}
		})
	}
}

func checkStep(t *testing.T, l *Loader, st loaderStep) {
	t.Helper()
	res := l.Load(st.File, st.RulesYAML)
	errs, warns := messages(res.Errors), messages(res.Warnings)
	if res.Successful != st.ExpectSuccess {
		t.Errorf("successful = %v, want %v; errors: %q", res.Successful, st.ExpectSuccess, errs)
	}
	for _, sub := range st.ErrorsContain {
		if !containsSub(errs, sub) {
			t.Errorf("no error contains %q; errors: %q", sub, errs)
		}
	}
	for _, sub := range st.WarningsContain {
		if !containsSub(warns, sub) {
			t.Errorf("no warning contains %q; warnings: %q", sub, warns)
		}
	}
	for _, sub := range st.WarningsNotContain {
		if containsSub(warns, sub) {
			t.Errorf("a warning contains %q; warnings: %q", sub, warns)
		}
	}
	if st.ExpectHasWarnings && len(warns) == 0 {
		t.Errorf("no warnings, want some")
	}
	for name, want := range st.CompiledCondition {
		r := findRule(l.Set(), name)
		if r == nil {
			t.Errorf("rule %q not compiled", name)
			continue
		}
		if got := condition.String(r.Condition); got != want {
			t.Errorf("rule %q condition:\n got %s\nwant %s", name, got, want)
		}
	}
}

func findRule(s *Set, name string) *Rule {
	for _, r := range s.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}
