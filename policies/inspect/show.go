package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// ShowOptions configure Show and List.
type ShowOptions struct {
	Paths  []string
	Rule   string // only this rule, when set
	Format string // text or json
	Out    io.Writer
}

// ShownRule is the JSON form of a rule in `rules show`.
type ShownRule struct {
	Name      string         `json:"name"`
	Source    string         `json:"source"`
	Priority  rules.Priority `json:"priority"`
	Enabled   bool           `json:"enabled"`
	Tags      []string       `json:"tags"`
	Condition string         `json:"condition"`
	Output    string         `json:"output"`
}

func shown(set *rules.Set, only string) ([]ShownRule, error) {
	out := []ShownRule{}
	for _, r := range set.Rules {
		if only != "" && r.Name != only {
			continue
		}
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		out = append(out, ShownRule{r.Name, r.Source, r.Priority, r.Enabled, tags, condition.String(r.Condition), r.Output})
	}
	if only != "" && len(out) == 0 {
		return nil, fmt.Errorf("no rule named %q", only)
	}
	return out, nil
}

// load loads the rules the options name, keeping o.Rule only if set.
func (o ShowOptions) load() ([]ShownRule, error) {
	set, err := LoadValid(o.Paths)
	if err != nil {
		return nil, err
	}
	return shown(set, o.Rule)
}

func writeRulesJSON(w io.Writer, rs []ShownRule) error {
	return json.NewEncoder(w).Encode(struct {
		Rules []ShownRule `json:"rules"`
	}{rs})
}

// Show prints each rule's fully expanded condition (lists, macros and
// exceptions resolved) and its final output, source, priority and tags.
func Show(o ShowOptions) error {
	rs, err := o.load()
	if err != nil {
		return err
	}
	switch o.Format {
	case "json":
		return writeRulesJSON(o.Out, rs)
	case "", "text":
		var b strings.Builder
		for _, r := range rs {
			fmt.Fprintf(&b, "rule: %s\n  source: %s\n  priority: %s\n  enabled: %v\n  tags: [%s]\n  condition: %s\n  output: %s\n\n",
				r.Name, r.Source, r.Priority, r.Enabled, strings.Join(r.Tags, ", "), r.Condition, r.Output)
		}
		_, err := io.WriteString(o.Out, b.String())
		return err
	}
	return fmt.Errorf("unknown format %q (want text or json)", o.Format)
}

// List prints one line per rule: name, source, priority, enabled.
func List(o ShowOptions) error {
	rs, err := o.load()
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeRulesJSON(o.Out, rs)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSOURCE\tPRIORITY\tENABLED")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", r.Name, r.Source, r.Priority, r.Enabled)
	}
	return tw.Flush()
}
