package engine

import (
	"slices"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// Typed sources put each rule in the buckets of the event types it can
// match (index). An untyped source can do the same with the value of one
// string field: most k8s_audit rules hold only for some ka.verb values
// (kcreate, kmodify, kdelete), and most audit traffic is gets, lists and
// watches, which then visit the few rules that test any verb instead of
// all of them.

// Keyed is implemented by untyped sources whose rules are bucketed by the
// value of one string field.
type Keyed interface {
	KeyField() string // a catalogue field name, read without argument
}

// keyIndex buckets rules by the key field's value.
type keyIndex[E any] struct {
	key     func(*E) (string, bool)
	byValue map[string][]*Rule[E] // for each value some rule requires
	other   []*Rule[E]            // for any other value, or none: the rules that require none
}

// newKeyIndex buckets rules by field; nil when the source cannot read it.
func newKeyIndex[E any](src Source[E], cat *fields.Catalog, field string, rs []*Rule[E]) *keyIndex[E] {
	fd, _, ok := cat.Lookup(field)
	if !ok {
		return nil
	}
	acc, ok := src.Accessor(fd, "")
	if !ok || acc.Kind != KindString || acc.Str == nil {
		return nil
	}
	x := &keyIndex[E]{key: acc.Str, byValue: map[string][]*Rule[E]{}}
	required := make([][]string, len(rs))
	for i, r := range rs {
		required[i], _ = keyValues(r.Condition, field, cat)
		for _, v := range required[i] {
			x.byValue[v] = nil
		}
	}
	for i, r := range rs {
		if required[i] == nil {
			x.other = append(x.other, r)
		}
		for v := range x.byValue {
			if required[i] == nil || slices.Contains(required[i], v) {
				x.byValue[v] = append(x.byValue[v], r)
			}
		}
	}
	return x
}

// candidates are the rules an event with ev's key value can match, in
// definition order.
func (x *keyIndex[E]) candidates(ev *E) []*Rule[E] {
	if v, ok := x.key(ev); ok {
		if rs, ok := x.byValue[v]; ok {
			return rs
		}
	}
	return x.other
}

// keyValues returns the values of field without which e cannot hold, and
// true; or false when e can hold whatever the field's value. Only what is
// certain counts: a conjunction is bounded by any of its checks, a
// disjunction when each of its branches is, a check when it is = or in
// against constants; anything else (not, other operators, transformers,
// modifiers) bounds nothing.
func keyValues(e condition.Expr, field string, cat *fields.Catalog) ([]string, bool) {
	switch n := e.(type) {
	case *condition.And:
		for _, ch := range flatten(n.Children, true) {
			if vals, ok := keyValues(ch, field, cat); ok {
				return vals, true
			}
		}
	case *condition.Or:
		var all []string
		for _, ch := range flatten(n.Children, false) {
			vals, ok := keyValues(ch, field, cat)
			if !ok {
				return nil, false
			}
			all = append(all, vals...)
		}
		return all, true
	case *condition.BinaryCheck:
		return checkValues(n, field, cat)
	}
	return nil, false
}

func checkValues(n *condition.BinaryCheck, field string, cat *fields.Catalog) ([]string, bool) {
	f, ok := n.Left.(*condition.Field)
	if !ok || f.HasArg || n.Modifier != "" {
		return nil, false
	}
	if fd, dotArg, ok := cat.Lookup(f.Name); !ok || fd.Name != field || dotArg != "" {
		return nil, false
	}
	vals, constant := rhsValues(n.Right)
	_, isList := n.Right.(*condition.List)
	switch {
	case !constant:
		return nil, false
	case n.Op == "in" && isList, (n.Op == "=" || n.Op == "==") && !isList:
		return append([]string{}, vals...), true
	}
	return nil, false
}
