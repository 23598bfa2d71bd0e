package rules

import "slices"

// Messages shared with Falco (rule_loading_messages.h).
const (
	msgNoPreviousList    = "List uses 'append' or 'override.items: append' but no list by that name already exists"
	msgNoPreviousMacro   = "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
	msgNoPreviousRule    = "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
	msgNoPreviousReplace = "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
	msgWarnAppend        = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
	msgOverrideAppend    = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
	msgWarnEnabled       = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace')."
	rgxIdentifier        = "([a-zA-Z]+[a-zA-Z0-9_]*)"
	rgxBareStr           = "([^()\"'[:space:]=,]+)"
)

// ordered is a name-indexed collection that keeps definition order.
type ordered[T any] struct {
	items []*T
	byKey map[string]*T
}

func (o *ordered[T]) get(name string) *T { return o.byKey[name] }

func (o *ordered[T]) put(name string, v *T) {
	if o.byKey == nil {
		o.byKey = map[string]*T{}
	}
	if prev, ok := o.byKey[name]; ok {
		*prev = *v
		return
	}
	o.byKey[name] = v
	o.items = append(o.items, v)
}

// order is where an item stands: index is its first definition (a
// redefinition keeps it), visibility the last definition or append, which
// bounds the lists and macros it may reference.
type order struct{ index, visibility int }

type listInfo struct {
	order
	name  string
	items []string
	ctx   Context
}

type macroInfo struct {
	order
	name, cond   string
	ctx, condCtx Context
}

// entry is an exception's fields, comps or a value: a scalar or a list.
type entry struct {
	set    bool
	isList bool
	item   string
	items  []entry
}

type exceptionInfo struct {
	name          string
	fields, comps entry
	values        []entry
	ctx           Context
}

type ruleInfo struct {
	order
	name, cond, output, desc, source, action string
	priority                                 Priority
	enabled, warnEvttypes, skipUnknown       bool
	capture                                  bool
	captureDuration                          uint64
	tags                                     []string
	exceptions                               []exceptionInfo
	ctx, condCtx, outputCtx                  Context
	unknownSource                            bool
}

// ruleUpdate is an append or a selective replace of an existing rule.
type ruleUpdate struct {
	cond, output, desc                 *string
	tags                               []string
	hasTags                            bool
	exceptions                         []exceptionInfo
	hasExceptions                      bool
	priority                           *Priority
	enabled, warnEvttypes, skipUnknown *bool
	capture                            *bool
	captureDuration                    *uint64
	source                             *string // an explicit source must match the rule's
	ctx                                Context
}

func (u *ruleUpdate) empty() bool {
	return u.cond == nil && u.output == nil && u.desc == nil && !u.hasTags && !u.hasExceptions &&
		u.priority == nil && u.enabled == nil && u.warnEvttypes == nil && u.skipUnknown == nil &&
		u.capture == nil && u.captureDuration == nil
}

func (l *Loader) nextOrder(prev *order) order {
	id := l.cur
	l.cur++
	if prev != nil {
		return order{index: prev.index, visibility: id}
	}
	return order{index: id, visibility: id}
}

func (l *Loader) defineList(v *listInfo) {
	var prev *order
	if p := l.lists.get(v.name); p != nil {
		prev = &p.order
	}
	v.order = l.nextOrder(prev)
	l.lists.put(v.name, v)
}

func (l *Loader) appendList(v *listInfo) {
	prev := l.lists.get(v.name)
	validate(prev == nil, msgNoPreviousList, v.ctx)
	prev.items = append(prev.items, v.items...)
	prev.visibility = l.nextOrder(nil).index
}

func (l *Loader) defineMacro(v *macroInfo) {
	var prev *order
	if p := l.macros.get(v.name); p != nil {
		prev = &p.order
	}
	v.order = l.nextOrder(prev)
	l.macros.put(v.name, v)
}

func (l *Loader) appendMacro(v *macroInfo) {
	prev := l.macros.get(v.name)
	validate(prev == nil, msgNoPreviousMacro, v.ctx)
	prev.cond += " " + v.cond
	prev.visibility = l.nextOrder(nil).index
}

func (l *Loader) defineRule(res *Result, v *ruleInfo) {
	prev := l.rules.get(v.name)
	validate(prev != nil && prev.source != v.source, "Rule has been re-defined with a different source", v.ctx)
	cat := l.catalogs[v.source]
	if cat == nil {
		v.unknownSource = true
		res.addWarning(WarnUnknownSource, "Unknown source "+v.source+", skipping", v.ctx)
	}
	for i := range v.exceptions {
		ex := &v.exceptions[i]
		validate(!ex.fields.set, "Rule exception item must have fields property with a list of fields", ex.ctx)
		l.validateException(ex, v.unknownSource, v.source)
	}
	var po *order
	if prev != nil {
		po = &prev.order
	}
	v.order = l.nextOrder(po)
	l.rules.put(v.name, v)
}

func (l *Loader) appendRule(u *ruleUpdate, name string) {
	prev := l.rules.get(name)
	validate(prev == nil, msgNoPreviousRule, u.ctx)
	validate(u.source != nil && *u.source != prev.source, "Rule has been re-defined with a different source", u.ctx)
	validate(u.empty(), "Appended rule must have exceptions or condition property", u.ctx)
	if u.cond != nil && *u.cond != "" {
		prev.cond += " " + *u.cond
	}
	if u.output != nil && *u.output != "" {
		prev.output += " " + *u.output
	}
	if u.desc != nil && *u.desc != "" {
		prev.desc += " " + *u.desc
	}
	if u.hasTags {
		prev.tags = unionSorted(prev.tags, u.tags)
	}
	for _, ex := range u.exceptions {
		i := slices.IndexFunc(prev.exceptions, func(e exceptionInfo) bool { return e.name == ex.name })
		if i < 0 {
			validate(!ex.fields.set, "Rule exception must have fields property with a list of fields", ex.ctx)
			validate(len(ex.values) == 0, "Rule exception must have values property with a list of values", ex.ctx)
			l.validateException(&ex, prev.unknownSource, prev.source)
			prev.exceptions = append(prev.exceptions, ex)
			continue
		}
		validate(ex.fields.set, "Can not append exception fields to existing exception, only values", ex.ctx)
		validate(ex.comps.set, "Can not append exception comps to existing exception, only values", ex.ctx)
		prev.exceptions[i].values = append(prev.exceptions[i].values, ex.values...)
	}
	prev.visibility = l.nextOrder(nil).index
}

func (l *Loader) replaceRule(u *ruleUpdate, name string) {
	prev := l.rules.get(name)
	validate(prev == nil, msgNoPreviousReplace, u.ctx)
	validate(u.source != nil && *u.source != prev.source, "Rule has been re-defined with a different source", u.ctx)
	validate(u.empty(), "The rule must have at least one field that can be replaced", u.ctx)
	setIf(&prev.cond, u.cond)
	setIf(&prev.output, u.output)
	setIf(&prev.desc, u.desc)
	setIf(&prev.priority, u.priority)
	setIf(&prev.enabled, u.enabled)
	setIf(&prev.warnEvttypes, u.warnEvttypes)
	setIf(&prev.skipUnknown, u.skipUnknown)
	setIf(&prev.capture, u.capture)
	setIf(&prev.captureDuration, u.captureDuration)
	if u.hasTags {
		prev.tags = u.tags
	}
	if u.hasExceptions {
		prev.exceptions = u.exceptions
	}
	prev.visibility = l.nextOrder(nil).index
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func unionSorted(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
