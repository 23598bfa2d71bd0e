package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

type jsonIssue struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Context struct {
		Locations []struct {
			ItemType string `json:"item_type"`
			ItemName string `json:"item_name"`
		} `json:"locations"`
	} `json:"context"`
}

// TestValidateCommandConformance runs Falco's `falco -V` cases through
// `rules validate --format json`, reading its JSON as Falco's own test
// harness reads Falco's.
func TestValidateCommandConformance(t *testing.T) {
	var corpus struct {
		Rules map[string]struct{ File, YAML string }
		Cases []struct {
			Test          string
			ValidateFiles []string `json:"validate_files"`
			ExitCode      int      `json:"exit_code"`
			Expectations  []struct {
				Kind, Code, Message string
				ItemType            string `json:"item_type"`
				ItemName            string `json:"item_name"`
			}
		}
	}
	conformance.Load(t, "validation_cases.json", &corpus)
	if len(corpus.Cases) != 39 {
		t.Fatalf("%d cases in validation_cases.json, want the corpus's 39", len(corpus.Cases))
	}
	for _, c := range corpus.Cases {
		dir := t.TempDir()
		var paths []string
		for _, name := range c.ValidateFiles {
			path := filepath.Join(conformance.Dir(t), "rules", "falco_rules.yaml")
			if name != "FalcoRules" {
				path = filepath.Join(dir, corpus.Rules[name].File)
				if err := os.WriteFile(path, []byte(corpus.Rules[name].YAML), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			paths = append(paths, path)
		}
		var out bytes.Buffer
		err := Validate(ValidateOptions{Paths: paths, Format: "json", Out: &out})
		if exit := exitCode(err); exit != c.ExitCode {
			t.Errorf("%s: exit %d (%v), want %d", c.Test, exit, err, c.ExitCode)
		}
		var res struct {
			Results []struct{ Errors, Warnings []jsonIssue } `json:"falco_load_results"`
		}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%s: %v", c.Test, err)
		}
		for _, e := range c.Expectations {
			found := false
			for _, r := range res.Results {
				list := r.Errors
				if e.Kind == "warning" {
					list = r.Warnings
				}
				for _, is := range list {
					found = found || (is.Code == e.Code && (e.Message == "" || is.Message == e.Message) && hasLocation(is, e.ItemType, e.ItemName))
				}
			}
			if !found {
				t.Errorf("%s: no %s %s %q at %s %q", c.Test, e.Kind, e.Code, e.Message, e.ItemType, e.ItemName)
			}
		}
	}
}

func hasLocation(is jsonIssue, itemType, itemName string) bool {
	typeOK, nameOK := itemType == "", itemName == ""
	for _, l := range is.Context.Locations {
		typeOK = typeOK || strings.EqualFold(l.ItemType, itemType)
		nameOK = nameOK || l.ItemName == itemName
	}
	return typeOK && nameOK
}

func exitCode(err error) int {
	var exit *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code
	}
	return 2
}
