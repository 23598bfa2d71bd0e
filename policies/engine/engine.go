package engine

import (
	"fmt"
	"slices"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Options tune which rules run and how events match them. Start from
// DefaultOptions: the zero MinPriority is Emergency.
type Options struct {
	// MinPriority drops rules less severe than it (falco.yaml "priority").
	MinPriority rules.Priority
	// MatchAll reports every matching rule for an event; by default, as in
	// Falco's rule_matching: first, evaluation stops at the first match.
	MatchAll bool
	// Extra is append_output: text added to the output of the rules each
	// entry matches, and fields added to their output_fields.
	Extra []ExtraOutput
}

// DefaultOptions runs every rule and stops at the first match.
func DefaultOptions() Options { return Options{MinPriority: rules.Debug} }

// Rule is a compiled rule.
type Rule[E any] struct {
	*rules.Rule
	Output *Formatter[E]
	// Unextracted lists fields the rule reads that the source does not
	// extract yet; checks on them are false.
	Unextracted []string
	match       pred[E]
	reads       map[string]bool
	extra       []extraField[E]
}

// Reads reports whether the rule's condition or output reads the field.
func (r *Rule[E]) Reads(field string) bool { return r.reads[field] }

// Engine evaluates one source's rules.
type Engine[E any] struct {
	src     Source[E]
	rules   []*Rule[E]
	buckets [][]*Rule[E] // by event type code; one bucket when untyped
	typed   bool
	keyed   *keyIndex[E] // untyped sources that are Keyed
	opts    Options
	memo    *memo
}

// New compiles the enabled rules of set that belong to src.
func New[E any](src Source[E], cat *fields.Catalog, set *rules.Set, opts Options) (*Engine[E], error) {
	e := &Engine[E]{src: src, opts: opts}
	var selected []*rules.Rule
	var roots []condition.Expr
	for _, r := range set.Rules {
		if r.Source == src.Name() && r.Enabled && r.Priority <= opts.MinPriority {
			selected = append(selected, r)
			roots = append(roots, r.Condition)
		}
	}
	shared := sharedNodes(roots)
	e.memo = &memo{slots: make([]memoSlot, len(shared))}
	compiled := map[condition.Expr]pred[E]{}
	codes := src.TypeCodes()
	for _, r := range selected {
		c := &compiler[E]{src: src, cat: cat, codes: codes, shared: shared, memo: e.memo, compiled: compiled}
		p, err := c.compile(r.Condition)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Name, err)
		}
		spec, extraFields := extend(r, opts.Extra)
		out, err := c.formatter(spec)
		if err != nil {
			return nil, fmt.Errorf("rule %q output: %w", r.Name, err)
		}
		extra, err := c.extraFields(extraFields)
		if err != nil {
			return nil, fmt.Errorf("rule %q: append_output: %w", r.Name, err)
		}
		slices.Sort(c.missing)
		reads := fieldsOf(r.Condition, cat)
		for _, p := range out.parts {
			if p.field != "" {
				reads[fieldName(p.field, cat)] = true
			}
		}
		for _, f := range extra {
			for _, p := range f.out.parts {
				if p.field != "" {
					reads[fieldName(p.field, cat)] = true
				}
			}
		}
		e.rules = append(e.rules, &Rule[E]{Rule: r, Output: out, Unextracted: slices.Compact(c.missing), match: p, reads: reads,
			extra: extra})
	}
	e.index()
	if k, ok := src.(Keyed); ok && !e.typed {
		e.keyed = newKeyIndex(src, cat, k.KeyField(), e.rules)
	}
	return e, nil
}

// Uses reports whether a loaded rule reads the field (by its catalogue
// name: proc.env for proc.env[HOME]), so that a source captures costly
// state only when some rule needs it.
func (e *Engine[E]) Uses(field string) bool {
	return slices.ContainsFunc(e.rules, func(r *Rule[E]) bool { return r.Reads(field) })
}

// index puts each rule in the bucket of every event type it can match;
// rules are visited in order, so every bucket keeps definition order.
func (e *Engine[E]) index() {
	codes := e.src.TypeCodes()
	e.typed = codes != nil
	if codes == nil {
		e.buckets = [][]*Rule[E]{e.rules}
		return
	}
	n := 0
	for _, c := range codes {
		n = max(n, c+1)
	}
	e.buckets = make([][]*Rule[E], n)
	for _, r := range e.rules {
		for name, code := range codes {
			if slices.Contains(r.Evttypes, name) != r.AllEvttypes {
				e.buckets[code] = append(e.buckets[code], r)
			}
		}
	}
}

// Rules returns the compiled rules in definition order.
func (e *Engine[E]) Rules() []*Rule[E] { return e.rules }

// Match appends to out the rules ev satisfies, in definition order: the
// first only, unless Options.MatchAll. An Engine evaluates one event at a
// time: give each goroutine its own.
func (e *Engine[E]) Match(ev *E, out []*Rule[E]) []*Rule[E] {
	return e.MatchRules(ev, e.Candidates(ev), nil, out)
}

// Candidates are the rules an event of ev's type (or key value, Keyed)
// can match, in definition order.
func (e *Engine[E]) Candidates(ev *E) []*Rule[E] {
	if e.keyed != nil {
		return e.keyed.candidates(ev)
	}
	code := 0
	if e.typed {
		code = e.src.TypeCode(ev)
		if code < 0 || code >= len(e.buckets) {
			return nil
		}
	}
	return e.buckets[code]
}

// MatchRules is Match over the given rules, less those skip reports (nil:
// none): a source that must hold some rules back for an event (until what
// they read is known) evaluates the rest now and those later.
func (e *Engine[E]) MatchRules(ev *E, rules []*Rule[E], skip func(*Rule[E]) bool, out []*Rule[E]) []*Rule[E] {
	e.memo.gen++
	if e.memo.gen == 0 { // wrapped: forget every stored result
		clear(e.memo.slots)
		e.memo.gen = 1
	}
	for _, r := range rules {
		if skip != nil && skip(r) {
			continue
		}
		if r.match(ev) {
			out = append(out, r)
			if !e.opts.MatchAll {
				return out
			}
		}
	}
	return out
}
