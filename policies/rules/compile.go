package rules

import (
	"strings"

	"github.com/peregrine-sec/peregrine/policies/condition"
)

// compilation holds the state of one compile pass.
type compilation struct {
	l          *Loader
	res        *Result
	lists      []*listInfo
	listItems  map[string][]string
	listUsed   map[string]bool
	macroAST   map[string]condition.Expr // parsed, not yet expanded
	macroDone  map[string]condition.Expr // expanded
	macroBad   map[string]bool
	macroUsed  map[string]bool
	inProgress map[string]bool
}

func (l *Loader) compile(res *Result) *Set {
	c := &compilation{l: l, res: res, listItems: map[string][]string{}, listUsed: map[string]bool{},
		macroAST: map[string]condition.Expr{}, macroDone: map[string]condition.Expr{},
		macroBad: map[string]bool{}, macroUsed: map[string]bool{}, inProgress: map[string]bool{}}
	c.compileLists()
	c.compileMacros()
	set := &Set{RequiredEngineVersion: l.requiredEngine}
	for _, r := range l.rules.items {
		if r.unknownSource {
			continue
		}
		catch(res, func() {
			if rule := c.compileRule(r); rule != nil {
				set.Rules = append(set.Rules, rule)
			}
		})
	}
	c.warnUnused()
	return set
}

// compileLists expands items that name an earlier list.
func (c *compilation) compileLists() {
	for _, li := range c.l.lists.items {
		var items []string
		for _, it := range li.items {
			if ref := c.l.lists.get(it); ref != nil && ref.index < li.visibility {
				c.listUsed[ref.name] = true
				items = append(items, ref.items...)
				continue
			}
			items = append(items, it)
		}
		c.lists = append(c.lists, li)
		c.listItems[li.name] = items
	}
}

// parse substitutes lists into cond and parses it.
func (c *compilation) parse(cond string, ctx Context) condition.Expr {
	for _, li := range c.lists {
		var used bool
		if cond, used = resolveList(cond, li.name, c.listItems[li.name]); used {
			c.listUsed[li.name] = true
		}
	}
	e, err := condition.ParseDepth(cond, maxConditionDepth)
	if err != nil {
		se := err.(*condition.SyntaxError)
		throw(ErrCompileCondition, se.Msg, inCondition(ctx, cond, se.Pos))
	}
	return e
}

func (c *compilation) compileMacros() {
	for _, m := range c.l.macros.items {
		if !catch(c.res, func() { c.macroAST[m.name] = c.parse(m.cond, m.condCtx) }) {
			c.macroBad[m.name] = true
		}
	}
	for _, m := range c.l.macros.items {
		if !c.macroBad[m.name] && !catch(c.res, func() { c.expandMacro(m) }) {
			// Reported once here; rules using it are skipped, not re-reported.
			c.macroBad[m.name] = true
		}
	}
}

// expandMacro resolves the macros m references, seeing only those defined
// before m's last definition.
func (c *compilation) expandMacro(m *macroInfo) condition.Expr {
	if e, ok := c.macroDone[m.name]; ok {
		return e
	}
	validate(c.inProgress[m.name], "reference loop in macro '"+m.name+"'", m.ctx)
	c.inProgress[m.name] = true
	defer delete(c.inProgress, m.name)
	e := c.resolveMacros(c.macroAST[m.name], m.cond, m.ctx, m.visibility)
	c.macroDone[m.name] = e
	return e
}

// errBrokenMacro skips a rule whose macro already failed to compile, so
// one broken macro is reported once, not once per rule using it.
type errBrokenMacro struct{}

// resolveMacros replaces macro identifiers in e by their expansions.
func (c *compilation) resolveMacros(e condition.Expr, cond string, ctx Context, visibility int) condition.Expr {
	switch n := e.(type) {
	case *condition.And:
		return &condition.And{Children: c.resolveAll(n.Children, cond, ctx, visibility), Pos: n.Pos}
	case *condition.Or:
		return &condition.Or{Children: c.resolveAll(n.Children, cond, ctx, visibility), Pos: n.Pos}
	case *condition.Not:
		return &condition.Not{Child: c.resolveMacros(n.Child, cond, ctx, visibility), Pos: n.Pos}
	case *condition.Identifier:
		m := c.l.macros.get(n.Name)
		if m == nil || m.index >= visibility {
			validate(true, "Undefined macro '"+n.Name+"' used in filter.", inCondition(ctx, cond, n.Pos))
		}
		if c.macroBad[n.Name] {
			panic(errBrokenMacro{})
		}
		c.macroUsed[n.Name] = true
		return c.expandMacro(m)
	}
	return e
}

func (c *compilation) resolveAll(es []condition.Expr, cond string, ctx Context, vis int) []condition.Expr {
	out := make([]condition.Expr, len(es))
	for i, e := range es {
		out[i] = c.resolveMacros(e, cond, ctx, vis)
	}
	return out
}

func (c *compilation) warnUnused() {
	for _, m := range c.l.macros.items {
		if !c.macroUsed[m.name] {
			c.res.addWarning(WarnUnusedMacro, "Macro not referred to by any other rule/macro", m.ctx)
		}
	}
	for _, li := range c.l.lists.items {
		if !c.listUsed[li.name] {
			c.res.addWarning(WarnUnusedList, "List not referred to by any other rule/macro", li.ctx)
		}
	}
}

// resolveList substitutes every whole-word occurrence of name in cond by
// the list's items, textually, as Falco does (its quirks included: items
// with blanks are double-quoted, an empty list swallows a comma).
func resolveList(cond, name string, items []string) (string, bool) {
	const blanks = " \t\n\r"
	const delims = blanks + "(),="
	used := false
	start := strings.Index(cond, name)
	for start >= 0 {
		end := start + len(name)
		if (start == 0 || strings.IndexByte(delims, cond[start-1]) >= 0) &&
			(end >= len(cond) || strings.IndexByte(delims, cond[end]) >= 0) {
			for start > 0 && strings.IndexByte(blanks, cond[start-1]) >= 0 {
				start--
			}
			for end < len(cond) && strings.IndexByte(blanks, cond[end]) >= 0 {
				end++
			}
			quoted := make([]string, len(items))
			for i, it := range items {
				quoted[i] = quoteItem(it)
			}
			sub := strings.Join(quoted, ", ")
			if sub == "" {
				if start > 0 && cond[start-1] == ',' {
					start--
				} else if end < len(cond) && cond[end] == ',' {
					end++
				}
			}
			var b strings.Builder
			if start > 0 {
				b.WriteString(cond[:start] + " ")
			}
			b.WriteString(sub + " ")
			b.WriteString(cond[end:])
			cond = b.String()
			start += len(sub) + 1
			used = true
		}
		next := strings.Index(cond[min(start+1, len(cond)):], name)
		if next < 0 {
			break
		}
		start = start + 1 + next
	}
	return cond, used
}
