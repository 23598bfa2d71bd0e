package rules

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/policies/condition"
)

// exceptions reads a rule's exceptions; fields are optional in appends.
func (s *source) exceptions(res *Result, item *yaml.Node, parent Context, appending bool) []exceptionInfo {
	exs := get(item, "exceptions")
	if exs == nil || isNull(exs) {
		return nil
	}
	ectx := s.at(parent, exs, itemExceptions, "")
	check(exs.Kind != yaml.SequenceNode, "Rule exceptions must be a sequence", ectx)
	var out []exceptionInfo
	for _, ex := range exs.Content {
		tmp := s.at(ectx, ex, itemException, "")
		check(ex.Kind != yaml.MappingNode, "Rule exception must be a mapping", tmp)
		name := s.str(ex, "name", tmp)
		v := exceptionInfo{name: name, ctx: s.at(parent, ex, itemException, name)}
		if slices.ContainsFunc(out, func(e exceptionInfo) bool { return e.name == name }) {
			res.addWarning(WarnExceptionNotUnique, "Multiple definitions of exception '"+name+"' in the same rule", v.ctx)
		}
		v.fields = s.exceptionEntry(ex, "fields", v.ctx, appending)
		v.comps = s.exceptionEntry(ex, "comps", v.ctx, true)
		if vals := get(ex, "values"); vals != nil {
			vctx := s.at(v.ctx, vals, itemExceptionValues, "")
			check(vals.Kind != yaml.SequenceNode, "Rule exception values must be a sequence", vctx)
			for _, val := range vals.Content {
				v.values = append(v.values, s.entry(val, s.at(vctx, val, itemExceptionValue, "")))
			}
		} else if appending {
			res.addWarning(WarnAppendNoValues, "Overriding/appending exception with no values", v.ctx)
		}
		out = append(out, v)
	}
	return out
}

func (s *source) exceptionEntry(ex *yaml.Node, key string, ctx Context, optional bool) entry {
	v := get(ex, key)
	if v == nil {
		check(!optional, "Item has no mapping for key '"+key+"'", ctx)
		return entry{}
	}
	return s.entry(v, s.at(ctx, v, itemValueFor, key))
}

func (s *source) entry(v *yaml.Node, ctx Context) entry {
	switch v.Kind {
	case yaml.ScalarNode:
		check(v.Value == "", "Value must be non-empty", ctx)
		return entry{set: true, item: v.Value}
	case yaml.SequenceNode:
		e := entry{set: true, isList: true}
		for _, c := range v.Content {
			e.items = append(e.items, s.entry(c, s.at(ctx, c, itemException, "")))
		}
		return e
	}
	return entry{}
}

// normalizeComp folds the blanks of a comparison such as "startswith  oneof".
func normalizeComp(c string) string { return strings.Join(strings.Fields(c), " ") }

// compOK reports whether c is an operator, or a string operator followed
// by a modifier (startswith oneof).
func compOK(c string) bool {
	op, mod, hasMod := strings.Cut(c, " ")
	if !slices.Contains(condition.Operators(), op) {
		return false
	}
	if !hasMod {
		return true
	}
	return slices.Contains(condition.Modifiers(), mod) && isStrOp(op)
}

func isStrOp(op string) bool {
	switch op {
	case "exists", "<", "<=", ">", ">=", "in", "intersects", "pmatch":
		return false
	}
	return true
}

// isListComp reports whether values for comp c are written as a list.
func isListComp(c string) bool {
	return c == "in" || c == "intersects" || c == "pmatch" || strings.Contains(c, " ")
}

func (l *Loader) validateException(ex *exceptionInfo, unknownSource bool, src string) {
	fieldOK := func(f string) bool { return unknownSource || l.exceptionFieldOK(src, f) }
	if ex.fields.isList {
		if !ex.comps.set {
			ex.comps = entry{set: true, isList: true}
			for range ex.fields.items {
				ex.comps.items = append(ex.comps.items, entry{set: true, item: "="})
			}
		}
		validate(len(ex.fields.items) != len(ex.comps.items), "Fields and comps lists must have equal length", ex.ctx)
		for i := range ex.comps.items {
			c := normalizeComp(ex.comps.items[i].item)
			ex.comps.items[i].item = c
			validate(!compOK(c), "'"+c+"' is not a supported comparison operator", ex.ctx)
		}
		for _, f := range ex.fields.items {
			validate(!fieldOK(f.item), "'"+f.item+"' is not a supported filter field", ex.ctx)
		}
		return
	}
	if !ex.comps.set {
		ex.comps = entry{set: true, item: "in"}
	}
	validate(ex.comps.isList, "Fields and comps must both be strings", ex.ctx)
	c := normalizeComp(ex.comps.item)
	ex.comps.item = c
	scalarOK := c == "in" || c == "pmatch" || c == "intersects" || strings.Contains(c, " ") && compOK(c)
	validate(!scalarOK, "When fields is a single value, comps must be one of (in, pmatch, intersects) or a string operator with a modifier (oneof, anyof, allof)", ex.ctx)
	validate(!fieldOK(ex.fields.item), "'"+ex.fields.item+"' is not a supported filter field", ex.ctx)
}

// exceptionFieldOK accepts a field name, or a field expression such as
// tolower(proc.name), whose fields all belong to the source.
func (l *Loader) exceptionFieldOK(src, f string) bool {
	e, err := condition.Parse(f + " exists")
	if err != nil {
		return false
	}
	u, ok := e.(*condition.UnaryCheck)
	return ok && l.checker(src).lhsKnown(u.Left)
}

// quoteItem wraps a value containing a blank in double quotes, as Falco
// does when it writes exceptions into the condition text.
func quoteItem(v string) string {
	if strings.Contains(v, " ") && v[0] != '"' && v[0] != '\'' {
		return `"` + v + `"`
	}
	return v
}

func parenItem(v string) string {
	if !strings.HasPrefix(v, "(") {
		return "(" + v + ")"
	}
	return v
}

// exceptionCondition appends "and not (...)" for each exception to cond,
// textually as Falco does, so lists and macros in values resolve later.
func exceptionCondition(cond string, exs []exceptionInfo) string {
	out := "(" + cond + ")"
	for _, ex := range exs {
		var ic string
		if !ex.fields.isList {
			var vals []string
			for _, v := range ex.values {
				validate(v.isList, "Expected values array to contain a list of strings", ex.ctx)
				vals = append(vals, quoteItem(v.item))
			}
			if len(vals) > 0 {
				ic = "(" + ex.fields.item + " " + ex.comps.item + " (" + strings.Join(vals, ", ") + "))"
			}
		} else {
			ic = multiFieldException(ex)
		}
		if ic != "" {
			out += " and not " + ic
		}
	}
	return out
}

func multiFieldException(ex exceptionInfo) string {
	var alts []string
	for _, tuple := range ex.values {
		validate(len(ex.fields.items) != len(tuple.items), "Fields and values lists must have equal length", ex.ctx)
		var checks []string
		for k, f := range ex.fields.items {
			comp := ex.comps.items[k].item
			checks = append(checks, f.item+" "+comp+" "+exceptionValue(tuple.items[k], comp))
		}
		alts = append(alts, "( "+strings.Join(checks, " and ")+")")
	}
	if len(alts) == 0 {
		return ""
	}
	return "(" + strings.Join(alts, " or ") + ")"
}

func exceptionValue(v entry, comp string) string {
	if v.isList {
		items := make([]string, len(v.items))
		for i, it := range v.items {
			items[i] = quoteItem(it.item)
		}
		return "(" + strings.Join(items, ", ") + ")"
	}
	if isListComp(comp) {
		return parenItem(v.item)
	}
	return quoteItem(v.item)
}
