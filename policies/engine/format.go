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
	f := &Formatter[E]{}
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

// Append appends the formatted output for ev to buf.
func (f *Formatter[E]) Append(buf []byte, ev *E) []byte {
	for _, p := range f.parts {
		if p.field == "" {
			buf = append(buf, p.text...)
			continue
		}
		start := len(buf)
		buf = p.appendValue(buf, ev)
		for n := len(buf) - start; n < p.width; n++ {
			buf = append(buf, ' ')
		}
	}
	return buf
}

func (p part[E]) appendValue(buf []byte, ev *E) []byte {
	if p.acc.Kind == KindInt && p.typ == fields.Bool {
		n, ok := p.acc.Int(ev)
		if !ok {
			return append(buf, NA...)
		}
		return strconv.AppendBool(buf, n != 0)
	}
	if p.acc.Kind == KindList || p.acc.Kind == KindAny {
		k := p.acc.N(ev)
		if k == 0 {
			return append(buf, NA...)
		}
		buf = append(buf, '(')
		for i := 0; i < k; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, p.acc.At(ev, i)...)
		}
		return append(buf, ')')
	}
	s, ok := p.str(ev)
	if !ok {
		return append(buf, NA...)
	}
	return append(buf, s...)
}

// Fields returns the output's fields and their values for an alert's
// output_fields: numbers for numeric fields, strings otherwise, nil where
// the event has no value.
func (f *Formatter[E]) Fields(ev *E) map[string]any {
	m := make(map[string]any, len(f.parts))
	for _, p := range f.parts {
		if p.field == "" {
			continue
		}
		m[p.field] = p.value(ev)
	}
	return m
}

func (p part[E]) value(ev *E) any {
	switch {
	case p.acc.Kind == KindInt && p.typ == fields.Bool:
		n, ok := p.acc.Int(ev)
		if !ok {
			return nil
		}
		return n != 0
	case p.acc.Kind == KindInt:
		n, ok := p.acc.Int(ev)
		if !ok {
			return nil
		}
		return n
	}
	b := p.appendValue(nil, ev)
	if string(b) == NA {
		return nil
	}
	return string(b)
}
