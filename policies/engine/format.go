package engine

import (
	"fmt"
	"strconv"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/format"
)

// NA is what an output prints for a field without a value.
const NA = "<NA>"

// Formatter renders a rule's output for an event.
type Formatter[E any] struct {
	spec  string
	parts []part[E]
}

type part[E any] struct {
	text  string
	field string
	width int
	typ   fields.Type
	acc   Accessor[E]
	str   func(*E) (string, bool)
}

func (c *compiler[E]) formatter(spec string) (*Formatter[E], error) {
	known := func(name string) bool { _, _, ok := c.cat.Lookup(name); return ok }
	toks, err := format.Parse(spec, known)
	if err != nil {
		return nil, err
	}
	f := &Formatter[E]{spec: spec}
	for _, t := range toks {
		if t.Field == "" {
			f.parts = append(f.parts, part[E]{text: t.Text})
			continue
		}
		e, err := condition.Parse(t.Field + " exists")
		if err != nil {
			return nil, fmt.Errorf("invalid formatting token %s", t.Field)
		}
		acc, err := c.accessor(e.(*condition.UnaryCheck).Left)
		if err != nil {
			return nil, err
		}
		typ := fields.String
		if fd, _, ok := c.cat.Lookup(t.Name); ok {
			typ = fd.Type
		}
		f.parts = append(f.parts, part[E]{field: t.Field, width: t.Width, typ: typ, acc: acc, str: asString(acc)})
	}
	return f, nil
}

// appendValue appends the field's value for ev, or <NA> when it has none
// (and reports false).
func (p part[E]) appendValue(buf []byte, ev *E) ([]byte, bool) {
	if p.acc.Kind == KindInt && p.typ == fields.Bool {
		n, ok := p.acc.Int(ev)
		if !ok {
			return append(buf, NA...), false
		}
		return strconv.AppendBool(buf, n != 0), true
	}
	if p.acc.Kind == KindList || p.acc.Kind == KindAny {
		k := p.acc.N(ev)
		if k == 0 {
			return append(buf, NA...), false
		}
		buf = append(buf, '(')
		for i := 0; i < k; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendPrintable(buf, p.acc.At(ev, i))
		}
		return append(buf, ')'), true
	}
	s, present := p.str(ev)
	if !present {
		return append(buf, NA...), false
	}
	return appendPrintable(buf, s), true
}

// Render formats the output for ev and returns its fields' values for
// output_fields, reading each field once.
func (f *Formatter[E]) Render(ev *E) (string, map[string]any) {
	var buf []byte
	fieldVals := make(map[string]any, len(f.parts)+1)
	for _, p := range f.parts {
		if p.field == "" {
			buf = append(buf, p.text...)
			continue
		}
		start := len(buf)
		var present bool
		buf, present = p.appendValue(buf, ev)
		val := string(buf[start:])
		for n := len(buf) - start; n < p.width; n++ {
			buf = append(buf, ' ')
		}
		fieldVals[p.field] = p.typed(val, present)
	}
	return string(buf), fieldVals
}

// typed turns a rendered value into its output_fields form: null for a
// field without a value. A value that is the text <NA> (libsinsp's name
// for a user it does not know) stays a string, as in Falco.
func (p part[E]) typed(val string, present bool) any {
	switch {
	case !present:
		return nil
	case p.acc.Kind == KindInt && p.typ == fields.Bool:
		return val == "true"
	case p.acc.Kind == KindInt:
		n, _ := strconv.ParseInt(val, 10, 64)
		return n
	}
	return val
}
