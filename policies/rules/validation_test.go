package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

type expectation struct {
	Expect   string `json:"expect"`
	Kind     string `json:"kind"`
	Code     Code   `json:"code"`
	ItemType string `json:"item_type"`
	ItemName string `json:"item_name"`
	Message  string `json:"message"`
}

// matches reports whether an issue satisfies e the way Falco's test
// harness matches: code, any location's item type and name, exact message.
func (e expectation) matches(is Issue) bool {
	if is.Code != e.Code || (e.Message != "" && is.Message != e.Message) {
		return false
	}
	typeOK, nameOK := e.ItemType == "", e.ItemName == ""
	for _, l := range is.Context.Locations {
		typeOK = typeOK || strings.EqualFold(l.ItemType, e.ItemType)
		nameOK = nameOK || l.ItemName == e.ItemName
	}
	return typeOK && nameOK
}

// TestValidationConformance runs Falco's `falco -V` regression cases.
func TestValidationConformance(t *testing.T) {
	var corpus struct {
		Rules map[string]struct {
			File string `json:"file"`
			YAML string `json:"yaml"`
		} `json:"rules"`
		Cases []struct {
			Test          string        `json:"test"`
			ValidateFiles []string      `json:"validate_files"`
			ExitCode      int           `json:"exit_code"`
			Expectations  []expectation `json:"expectations"`
		} `json:"cases"`
	}
	conformance.Load(t, "validation_cases.json", &corpus)
	falcoRules, err := os.ReadFile(filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range corpus.Cases {
		t.Run(strings.TrimPrefix(c.Test, "TestFalco_Legacy_"), func(t *testing.T) {
			l := newTestLoader()
			var results []*Result
			for _, name := range c.ValidateFiles {
				f, content := corpus.Rules[name].File, corpus.Rules[name].YAML
				if name == "FalcoRules" {
					f, content = "falco_rules.yaml", string(falcoRules)
				}
				results = append(results, l.Load(f, content))
			}
			exit := 0
			for _, r := range results {
				if !r.Successful {
					exit = 1
				}
			}
			if exit != c.ExitCode {
				t.Errorf("exit code %d, want %d; results: %+v", exit, c.ExitCode, results)
			}
			for _, e := range c.Expectations {
				if !anyMatch(results, e) {
					t.Errorf("no %s matches %+v; results: %s", e.Kind, e, describe(results))
				}
			}
		})
	}
}

func anyMatch(results []*Result, e expectation) bool {
	for _, r := range results {
		list := r.Errors
		if e.Kind == "warning" {
			list = r.Warnings
		}
		for _, is := range list {
			if e.matches(is) {
				return true
			}
		}
	}
	return false
}

func describe(results []*Result) string {
	var b strings.Builder
	for _, r := range results {
		for _, is := range append(r.Errors, r.Warnings...) {
			b.WriteString("\n  " + string(is.Code) + " " + is.Message)
			for _, l := range is.Context.Locations {
				b.WriteString(" [" + l.ItemType + " " + l.ItemName + "]")
			}
		}
	}
	return b.String()
}
