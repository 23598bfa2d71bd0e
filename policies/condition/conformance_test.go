package condition

import (
	"strings"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
)

type parserCase struct {
	Test   string `json:"test"`
	Kind   string `json:"kind"`
	Filter string `json:"filter"`
	Error  string `json:"error"`
}

// TestParserConformance runs every case of libsinsp's parser tests. Like
// libsinsp, accepted conditions are also parsed with their spaces turned
// into newlines and tabs.
func TestParserConformance(t *testing.T) {
	var corpus struct{ Cases []parserCase }
	conformance.Load(t, "parser_cases.json", &corpus)
	if len(corpus.Cases) != 530 {
		t.Fatalf("%d cases in parser_cases.json, want the corpus's 530", len(corpus.Cases))
	}
	for _, c := range corpus.Cases {
		_, err := Parse(c.Filter)
		switch c.Kind {
		case "accept":
			if err != nil {
				t.Errorf("%s: Parse(%q) = %v, want success", c.Test, c.Filter, err)
				continue
			}
			if strings.ContainsAny(c.Filter, `"'`) {
				continue // blanks inside quoted strings are content
			}
			for _, blank := range []string{"\n", "\t"} {
				in := strings.ReplaceAll(c.Filter, " ", blank)
				if _, err := Parse(in); err != nil {
					t.Errorf("%s: Parse(%q) = %v, want success", c.Test, in, err)
				}
			}
		case "reject":
			if err == nil {
				t.Errorf("%s: Parse(%q) succeeded, want error", c.Test, c.Filter)
			} else if c.Error != "" && err.Error() != c.Error {
				t.Errorf("%s: Parse(%q) error = %q, want %q", c.Test, c.Filter, err, c.Error)
			}
		default:
			t.Fatalf("unknown case kind %q", c.Kind)
		}
	}
}
