package engine

import (
	"slices"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// ExtraOutput is one entry of append_output (Falco 0.38+). It applies to
// the rules that match every one of Source, Tags (all of them) and Rule
// that is set; with none set, to every rule. Output is appended to the
// rule's output, after a space; Fields are added to output_fields only.
type ExtraOutput struct {
	Source string
	Tags   []string
	Rule   string
	Output string
	Fields []ExtraField
}

// ExtraField is one of append_output's extra_fields: a field by its name
// (Format empty: output_fields gets the field's value under its name), or
// a name of one's own with a format rendered for each event.
type ExtraField struct {
	Name   string
	Format string
}

func (x *ExtraOutput) matches(r *rules.Rule) bool {
	return (x.Source == "" || x.Source == r.Source) && (x.Rule == "" || x.Rule == r.Name) &&
		!slices.ContainsFunc(x.Tags, func(t string) bool { return !slices.Contains(r.Tags, t) })
}

// extend is r's output with the extra outputs that match it appended, in
// order, and the extra fields of those.
func extend(r *rules.Rule, extras []ExtraOutput) (string, []ExtraField) {
	spec := r.Output
	var fields []ExtraField
	for i := range extras {
		x := &extras[i]
		if !x.matches(r) {
			continue
		}
		if x.Output != "" {
			spec += " " + x.Output
		}
		fields = append(fields, x.Fields...)
	}
	return spec, fields
}

// extraField is an extra field compiled: its format, and whether it is a
// field by its own name (its typed value goes to output_fields).
type extraField[E any] struct {
	name  string
	out   *Formatter[E]
	plain bool
}

func (c *compiler[E]) extraFields(fields []ExtraField) ([]extraField[E], error) {
	var out []extraField[E]
	for _, f := range fields {
		spec, plain := f.Format, f.Format == ""
		if plain {
			spec = "%" + f.Name
		}
		fm, err := c.formatter(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, extraField[E]{name: f.Name, out: fm, plain: plain})
	}
	return out, nil
}

// Render is the rule's output for ev and the values of output_fields:
// the fields the output shows, and the extra fields of append_output.
func (r *Rule[E]) Render(ev *E) (string, map[string]any) {
	msg, vals := r.Output.Render(ev)
	for _, f := range r.extra {
		text, fv := f.out.Render(ev)
		if f.plain {
			vals[f.name] = fv[f.name]
		} else {
			vals[f.name] = text
		}
	}
	return msg, vals
}

// OutputSpec is the rule's output as compiled: its own and what
// append_output added.
func (r *Rule[E]) OutputSpec() string { return r.Output.spec }
