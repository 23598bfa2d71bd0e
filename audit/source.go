package audit

import (
	"github.com/valyala/fastjson"

	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

type acc = engine.Accessor[Event]

// Source is the k8s_audit source as the rule engine sees it. Build one per
// engine: it numbers the list fields it hands out, to cache their values
// per event.
type Source struct {
	nextList int
}

// Name implements engine.Source.
func (*Source) Name() string { return fields.SourceK8sAudit }

// TypeCodes implements engine.Source: audit events have no event types.
func (*Source) TypeCodes() map[string]int { return nil }

// TypeCode implements engine.Source.
func (*Source) TypeCode(*Event) int { return 0 }

// KeyField implements engine.Keyed: rules are bucketed by verb.
func (*Source) KeyField() string { return "ka.verb" }

// Accessor implements engine.Source.
func (s *Source) Accessor(f *fields.Field, arg string) (acc, bool) {
	if mk, ok := stringFields[f.Name]; ok {
		return mk(arg)
	}
	if mk, ok := listFields(f.Name); ok {
		fn, ok := mk(arg)
		if !ok {
			return acc{}, false
		}
		s.nextList++
		return cachedList(s.nextList, fn), true
	}
	return acc{}, false
}

// Extracted reports whether the source reads a field.
func Extracted(name string) bool {
	_, a := stringFields[name]
	_, b := listFields(name)
	return a || b
}

// valid reports whether fields can be read from e: like the k8saudit
// plugin, an event without an auditID yields no field at all.
func valid(e *Event) bool { return e.hot[hotAuditID] != nil }

// strAt reads the value at a key path as text.
func strAt(keys ...string) func(string) (acc, bool) {
	get := getter(keys...)
	return func(arg string) (acc, bool) {
		return strFunc(func(e *Event) (string, bool) { return text(get(e)) }), arg == ""
	}
}

func strFunc(f func(*Event) (string, bool)) acc {
	return acc{Kind: engine.KindString, Str: func(e *Event) (string, bool) {
		if !valid(e) {
			return "", false
		}
		return f(e)
	}}
}

type listFunc func(*Event) ([]string, bool)

// cachedList computes a list field once per event, however many checks
// and output tokens read it.
func cachedList(id int, f listFunc) acc {
	get := func(e *Event) []string {
		for _, c := range e.lists {
			if c.id == id {
				return c.vals
			}
		}
		var vals []string
		if valid(e) {
			if v, ok := f(e); ok {
				vals = v
			}
		}
		e.lists = append(e.lists, cachedListEntry{id: id, vals: vals})
		return vals
	}
	return acc{Kind: engine.KindList,
		N:  func(e *Event) int { return len(get(e)) },
		At: func(e *Event, i int) string { return get(e)[i] },
	}
}

// texts renders every element of an array as text; a missing element
// makes the whole field absent, as in the plugin.
func texts(vals []*fastjson.Value) ([]string, bool) {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		s, ok := text(v)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// listAt reads the array at a key path.
func listAt(keys ...string) listFunc {
	get := getter(keys...)
	return func(e *Event) ([]string, bool) {
		arr := get(e)
		if arr == nil || arr.Type() != fastjson.TypeArray {
			return nil, false
		}
		return texts(arr.GetArray())
	}
}
