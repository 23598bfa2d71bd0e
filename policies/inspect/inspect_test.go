package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

// TestParseCommandConformance runs libsinsp's parser cases through
// `rules parse --format json`.
func TestParseCommandConformance(t *testing.T) {
	var corpus struct {
		Cases []struct{ Kind, Filter, Error string }
	}
	conformance.Load(t, "parser_cases.json", &corpus)
	if len(corpus.Cases) != 530 {
		t.Fatalf("%d cases in parser_cases.json, want the corpus's 530", len(corpus.Cases))
	}
	for _, c := range corpus.Cases {
		var out bytes.Buffer
		err := Parse(ParseOptions{Conditions: []string{c.Filter}, Format: "json", Out: &out})
		var r ParseResult
		if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
			t.Fatalf("%q: bad JSON %q: %v", c.Filter, out.String(), jerr)
		}
		if want := c.Kind == "accept"; r.OK != want || (err == nil) != want {
			t.Errorf("%q: ok=%v err=%v, want ok=%v", c.Filter, r.OK, err, want)
		}
		if c.Error != "" && r.Error != c.Error {
			t.Errorf("%q: error %q, want %q", c.Filter, r.Error, c.Error)
		}
		if !r.OK && r.Position == nil {
			t.Errorf("%q: no position", c.Filter)
		}
	}
}

func TestParseStdin(t *testing.T) {
	var out bytes.Buffer
	err := Parse(ParseOptions{Conditions: []string{"-"}, Format: "json", In: strings.NewReader("a and b\nproc.name=bash\n"), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"condition":"a and b","ok":true,"ast":"(a and b)"}` + "\n" +
		`{"condition":"proc.name=bash","ok":true,"ast":"proc.name = bash"}` + "\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("parse output (-want +got):\n%s", diff)
	}
}

// TestShowCommandConformance checks the expanded conditions of Falco's
// loader cases through `rules show --format json`.
func TestShowCommandConformance(t *testing.T) {
	var corpus struct {
		Cases []struct {
			Test  string
			Steps []struct {
				File              string            `json:"file"`
				RulesYAML         string            `json:"rules_yaml"`
				ExpectSuccess     bool              `json:"expect_success"`
				CompiledCondition map[string]string `json:"compiled_condition"`
			}
		}
	}
	conformance.Load(t, "loader_cases.json", &corpus)
	n := 0
	for _, c := range corpus.Cases {
		st := c.Steps[0]
		if len(st.CompiledCondition) == 0 || !st.ExpectSuccess {
			continue
		}
		path := filepath.Join(t.TempDir(), st.File)
		if err := os.WriteFile(path, []byte(st.RulesYAML), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, want := range st.CompiledCondition {
			var out bytes.Buffer
			if err := Show(ShowOptions{Paths: []string{path}, Rule: name, Format: "json", Out: &out}); err != nil {
				t.Errorf("%s: %v", c.Test, err)
				continue
			}
			var got struct{ Rules []ShownRule }
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Rules) != 1 {
				t.Fatalf("%s: bad output %q: %v", c.Test, out.String(), err)
			}
			if got.Rules[0].Condition != want {
				t.Errorf("%s: condition\n got %s\nwant %s", c.Test, got.Rules[0].Condition, want)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("only %d compiled conditions checked", n)
	}
}

// TestValidateCommand checks exit status and the JSON shape of
// `rules validate` on the upstream files and on a broken file.
func TestValidateCommand(t *testing.T) {
	dir := conformance.Dir(t)
	var out bytes.Buffer
	paths := []string{filepath.Join(dir, "rules", "k8s_audit_rules.yaml"), filepath.Join(dir, "rules", "k8s_audit_rules_gke.yaml")}
	if err := Validate(ValidateOptions{Paths: paths, Format: "json", Out: &out}); err != nil {
		t.Fatalf("validate upstream: %v\n%s", err, out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("- macro: m\n  condition: evt.type = open and\n"), 0o644)
	out.Reset()
	err := Validate(ValidateOptions{Paths: []string{bad}, Format: "json", Out: &out})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("validate bad file: err = %v, want exit 1", err)
	}
	var res struct {
		Results []struct {
			Name       string
			Successful bool
			Errors     []struct{ Code, Message string }
		} `json:"falco_load_results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	want := []struct{ Code, Message string }{{"LOAD_ERR_COMPILE_CONDITION", "expected blank or '(' after 'and'"}}
	if diff := cmp.Diff(want, res.Results[0].Errors); diff != "" || res.Results[0].Successful {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestDefaultRulesValidateClean(t *testing.T) {
	results, set := Load(nil)
	if r := results[0]; !r.Successful || len(r.Warnings) > 0 {
		t.Errorf("default rules: %+v", r)
	}
	if len(set.Rules) < 7 {
		t.Errorf("default rules: %d rules, want at least 7", len(set.Rules))
	}
}

// TestValidateText pins the human report: every error, its locations, the
// offending line with a caret, and Falco's code and message.
func TestValidateText(t *testing.T) {
	var out bytes.Buffer
	err := Validate(ValidateOptions{Paths: []string{"testdata/bad_rules.yaml"}, Out: &out})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	want, rerr := os.ReadFile("testdata/bad_rules.txt")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}
