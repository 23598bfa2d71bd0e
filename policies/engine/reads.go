package engine

import (
	"strings"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// fieldsOf collects the catalogue names of the fields a condition reads
// (macros are expanded in place, so this sees through them).
func fieldsOf(e condition.Expr, cat *fields.Catalog) map[string]bool {
	out := map[string]bool{}
	condition.Walk(e, func(n condition.Expr) bool {
		if f, ok := n.(*condition.Field); ok {
			out[fieldName(f.Name, cat)] = true
		}
		return true
	})
	return out
}

// fieldName is the catalogue name of a field as written (proc.aname for
// proc.aname[2], ka.req.binding.subject for a dotted argument).
func fieldName(written string, cat *fields.Catalog) string {
	name, _, _ := strings.Cut(written, "[")
	if f, _, ok := cat.Lookup(name); ok {
		return f.Name
	}
	return name
}
