package rules

import (
	"slices"
	"strings"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/format"
)

const containerInfo = "%container.info"

// compileRule turns a collected rule into a Rule, or nil when the rule is
// skipped (skip-if-unknown-filter).
func (c *compilation) compileRule(r *ruleInfo) *Rule {
	cat := c.l.catalogs[r.source]
	out, ok := c.compileOutput(r, cat)
	if !ok {
		return nil
	}
	ast, ok := c.compileCondition(r, cat)
	if !ok {
		return nil
	}
	if r.action != "" && r.source != fields.SourceK8sAdmission {
		c.res.addWarning(WarnUnknownKey, "'action' only applies to rules of source k8s_admission; it is ignored here", r.ctx)
	}
	rule := &Rule{Name: r.name, Desc: r.desc, Source: r.source, Priority: r.priority, Enabled: r.enabled,
		Tags: slices.Clone(r.tags), Output: out, Action: r.action, Condition: ast, Capture: r.capture,
		CaptureSecs: r.captureDuration}
	if r.source == fields.SourceSyscall {
		set := Evttypes(ast)
		rule.Evttypes, rule.AllEvttypes = set.Names, set.Negated
		if (set.Negated || len(set.Names) > 100 || unknownEvttype(ast)) && r.warnEvttypes {
			c.res.addWarning(WarnNoEvttype, "Rule matches too many evt.type values. This has a significant performance penalty.", r.ctx)
		}
	}
	return rule
}

// compileOutput checks the rule's output format; false: skip the rule.
func (c *compilation) compileOutput(r *ruleInfo, cat *fields.Catalog) (string, bool) {
	out := r.output
	if strings.Contains(out, containerInfo) {
		c.res.addWarning(WarnDeprecatedItem, "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. "+
			"The container plugin will automatically add required fields to the output message.", r.ctx)
		out = strings.TrimSpace(strings.ReplaceAll(out, containerInfo, ""))
	}
	known := func(name string) bool { _, _, ok := cat.Lookup(name); return ok }
	if _, err := format.Parse(out, known); err != nil {
		if r.skipUnknown {
			c.res.addWarning(WarnUnknownFilter, err.Error(), r.outputCtx)
			return "", false
		}
		throw(ErrCompileOutput, err.Error(), r.outputCtx)
	}
	if strings.Contains(out, "%evt.dir") {
		c.res.addWarning(WarnDeprecatedItem, "usage of deprecated field 'evt.dir' has been detected in the rule output", r.outputCtx)
	}
	return out, true
}

// compileCondition parses the rule's condition with its exceptions,
// expands macros and type-checks it; false: skip the rule.
func (c *compilation) compileCondition(r *ruleInfo, cat *fields.Catalog) (condition.Expr, bool) {
	cond := r.cond
	if len(r.exceptions) > 0 {
		cond = exceptionCondition(cond, r.exceptions)
	}
	ast := c.parse(cond, r.condCtx)
	ast = c.resolveMacros(ast, cond, r.ctx, int(^uint(0)>>1))
	chk := &checker{cat: cat, warn: func(msg string, p condition.Pos, code Code) {
		c.res.addWarning(code, msg, inCondition(r.condCtx, cond, p))
	}}
	if err := chk.run(ast); err != nil {
		ctx := inCondition(r.condCtx, cond, err.pos)
		if r.skipUnknown && strings.Contains(err.msg, "nonexistent field") {
			c.res.addWarning(WarnUnknownFilter, err.msg, ctx)
			return nil, false
		}
		throw(ErrCompileCondition, err.msg, ctx)
	}
	return ast, true
}

// EvttypeSet is the set of event types a condition can match: Names, or
// with Negated every type except Names.
type EvttypeSet struct {
	Names   []string
	Negated bool
}

var allTypes = EvttypeSet{Negated: true}

// Evttypes computes which event types can satisfy a condition, from its
// evt.type checks through and, or and not; any other check says nothing
// about the type, so it stands for every type.
func Evttypes(e condition.Expr) EvttypeSet {
	switch n := e.(type) {
	case *condition.And:
		s := allTypes
		for _, ch := range n.Children {
			s = intersect(s, Evttypes(ch))
		}
		return s
	case *condition.Or:
		s := EvttypeSet{}
		for _, ch := range n.Children {
			s = union(s, Evttypes(ch))
		}
		return s
	case *condition.Not:
		s := Evttypes(n.Child)
		if !s.Negated && len(s.Names) == 0 {
			return allTypes
		}
		if s.Negated && len(s.Names) == 0 {
			return allTypes // not(anything) still says nothing about the type
		}
		return EvttypeSet{Names: s.Names, Negated: !s.Negated}
	case *condition.BinaryCheck:
		return checkEvttypes(n)
	}
	return allTypes
}

// neverTrue recognises evt.num = 0, the placeholder Falco's rules use for
// "no event" (event numbers start at 1).
func neverTrue(n *condition.BinaryCheck) bool {
	f, ok := n.Left.(*condition.Field)
	v, isVal := n.Right.(*condition.Value)
	return ok && isVal && f.Name == "evt.num" && (n.Op == "=" || n.Op == "==") && v.Value == "0"
}

func checkEvttypes(n *condition.BinaryCheck) EvttypeSet {
	if neverTrue(n) {
		return EvttypeSet{}
	}
	f, ok := n.Left.(*condition.Field)
	if !ok || f.Name != "evt.type" || n.Modifier != "" {
		return allTypes
	}
	var names []string
	switch r := n.Right.(type) {
	case *condition.Value:
		names = []string{r.Value}
	case *condition.List:
		names = r.Values
	default:
		return allTypes
	}
	switch n.Op {
	case "=", "==", "in", "intersects":
		return EvttypeSet{Names: sortedSet(slices.DeleteFunc(slices.Clone(names), unknownEvent))}
	case "!=":
		return EvttypeSet{Names: sortedSet(names), Negated: true}
	}
	return allTypes
}

func unknownEvent(name string) bool { return !eventNames[name] }

// unknownEvttype reports whether the condition compares evt.type with a
// name no event has. Falco warns of those as of rules matching too many
// types (its resolver gives up on the name); a condition that can match
// nothing by design (never_true, evt.type = open and evt.type = close)
// it leaves alone, and so do we.
func unknownEvttype(e condition.Expr) bool {
	found := false
	condition.Walk(e, func(e condition.Expr) bool {
		if n, ok := e.(*condition.BinaryCheck); ok {
			found = found || namesUnknownEvent(n)
		}
		return !found
	})
	return found
}

// namesUnknownEvent reports whether n is evt.type = (or in) a name no
// event has.
func namesUnknownEvent(n *condition.BinaryCheck) bool {
	if f, ok := n.Left.(*condition.Field); !ok || f.Name != "evt.type" || n.Op == "!=" {
		return false
	}
	switch r := n.Right.(type) {
	case *condition.Value:
		return unknownEvent(r.Value)
	case *condition.List:
		return slices.ContainsFunc(r.Values, unknownEvent)
	}
	return false
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func intersect(a, b EvttypeSet) EvttypeSet {
	switch {
	case !a.Negated && !b.Negated:
		return EvttypeSet{Names: keep(a.Names, b.Names, true)}
	case !a.Negated:
		return EvttypeSet{Names: keep(a.Names, b.Names, false)}
	case !b.Negated:
		return EvttypeSet{Names: keep(b.Names, a.Names, false)}
	}
	return EvttypeSet{Names: sortedSet(append(slices.Clone(a.Names), b.Names...)), Negated: true}
}

func union(a, b EvttypeSet) EvttypeSet {
	switch {
	case !a.Negated && !b.Negated:
		return EvttypeSet{Names: sortedSet(append(slices.Clone(a.Names), b.Names...))}
	case !a.Negated:
		return EvttypeSet{Names: keep(b.Names, a.Names, false), Negated: true}
	case !b.Negated:
		return EvttypeSet{Names: keep(a.Names, b.Names, false), Negated: true}
	}
	return EvttypeSet{Names: keep(a.Names, b.Names, true), Negated: true}
}

// keep returns the names of a that are (in) or are not (!in) in b.
func keep(a, b []string, in bool) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) == in {
			out = append(out, x)
		}
	}
	return out
}
