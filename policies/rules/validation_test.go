package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
			// SuccessfulAsserted: Falco's case asserts the first file's
			// result Successful ("True") or not.
			SuccessfulAsserted []string `json:"successful_asserted"`
			RawAssertions      []string `json:"raw_assertions"`
		} `json:"cases"`
	}
	conformance.Load(t, "validation_cases.json", &corpus)
	falcoRules, err := os.ReadFile(filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus.Cases) != validationCases {
		t.Fatalf("%d cases in validation_cases.json, want the corpus's %d", len(corpus.Cases), validationCases)
	}
	var asserted int
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
			for _, want := range c.SuccessfulAsserted {
				if got := strconv.FormatBool(results[0].Successful); !strings.EqualFold(got, want) {
					t.Errorf("the first file's result successful: %s, want %s", got, want)
				}
			}
			asserted += len(c.SuccessfulAsserted) + checkCounts(t, c.Test, c.RawAssertions, results)
		})
	}
	// The corpus's assert.True(...Successful) and assert.Equal(N, ...Count())
	// lines: 5 and 2.
	if asserted != 7 {
		t.Errorf("%d successful and count assertions checked, want the corpus's 7", asserted)
	}
}

// validationCases is how many cases validation_cases.json holds.
const validationCases = 39

// countAssertion is Falco's "exactly N warnings/errors" assertion.
var countAssertion = regexp.MustCompile(`^assert\.Equal\(t, (\d+), res\.RuleValidation\(\)\.All(Warnings|Errors)\(\)\.Count\(\)\)$`)

// checkCounts checks the raw assertions that count all warnings or
// errors, and says how many it checked.
func checkCounts(t *testing.T, test string, raw []string, results []*Result) int {
	t.Helper()
	checked := 0
	for _, a := range raw {
		m := countAssertion.FindStringSubmatch(a)
		if m == nil {
			continue
		}
		got := 0
		for _, r := range results {
			if m[2] == "Errors" {
				got += len(r.Errors)
			} else {
				got += len(r.Warnings)
			}
		}
		want, _ := strconv.Atoi(m[1])
		want += moreThanFalco[test]
		if got != want {
			t.Errorf("%d %s, want exactly %d; results: %s", got, strings.ToLower(m[2]), want, describe(results))
		}
		checked++
	}
	return checked
}

// moreThanFalco are the problems Peregrine reports beyond Falco's count,
// by design: Falco stops compiling rules at the first that fails, where
// Peregrine compiles them all and reports every one that fails (here the
// output of the third rule too).
var moreThanFalco = map[string]int{"TestFalco_Legacy_SkipUnknownError": 1}

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
