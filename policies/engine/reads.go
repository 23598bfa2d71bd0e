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
	var walk func(condition.Expr)
	walk = func(e condition.Expr) {
		switch n := e.(type) {
		case *condition.And:
			for _, c := range n.Children {
				walk(c)
			}
		case *condition.Or:
			for _, c := range n.Children {
				walk(c)
			}
		case *condition.Not:
			walk(n.Child)
		case *condition.UnaryCheck:
			walk(n.Left)
		case *condition.BinaryCheck:
			walk(n.Left)
			walk(n.Right)
		case *condition.Transformer:
			for _, a := range n.Args {
				walk(a)
			}
		case *condition.TransformerList:
			for _, a := range n.Items {
				walk(a)
			}
		case *condition.Field:
			out[fieldName(n.Name, cat)] = true
		}
	}
	walk(e)
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
