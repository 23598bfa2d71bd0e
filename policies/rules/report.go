package rules

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Summary is the one-line verdict for a result, as Falco prints it.
func (r *Result) Summary() string {
	switch {
	case !r.Successful:
		return r.Name + ": Invalid"
	case len(r.Warnings) > 0:
		return r.Name + ": Ok, with warnings"
	}
	return r.Name + ": Ok"
}

// WriteText writes results for people, in the layout of `falco -V`:
// the verdict, then every issue with its locations, the offending line
// with a caret, and the code, description and message. File positions are
// 1-based here (the JSON form keeps Falco's 0-based numbers).
func WriteText(w io.Writer, results []*Result) error {
	var b strings.Builder
	for _, r := range results {
		b.WriteString(r.Summary() + "\n")
		writeIssues(&b, "Errors", r.Errors)
		writeIssues(&b, "Warnings", r.Warnings)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeIssues(b *strings.Builder, kind string, issues []Issue) {
	if len(issues) == 0 {
		return
	}
	fmt.Fprintf(b, "%d %s:\n", len(issues), kind)
	for _, is := range issues {
		for i, l := range is.Context.Locations {
			if l.ItemType == itemContent && len(is.Context.Locations) > 1 {
				continue
			}
			if i <= 1 {
				b.WriteString("In " + l.describe() + "\n")
			} else {
				b.WriteString("    " + l.describe() + "\n")
			}
		}
		if is.Context.Snippet != "" {
			b.WriteString("------\n" + is.Context.Snippet + "\n------\n")
		}
		fmt.Fprintf(b, "%s (%s): %s\n", is.Code, is.CodeDesc, is.Message)
	}
}

// WriteJSON writes results as Falco's {"falco_load_results": [...]}.
func WriteJSON(w io.Writer, results []*Result) error {
	for _, r := range results {
		if r.Errors == nil {
			r.Errors = []Issue{}
		}
		if r.Warnings == nil {
			r.Warnings = []Issue{}
		}
	}
	return json.NewEncoder(w).Encode(struct {
		Results []*Result `json:"falco_load_results"`
	}{results})
}
