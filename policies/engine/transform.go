package engine

import (
	"encoding/base64"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/peregrine-sec/peregrine/policies/condition"
)

// asString reads any accessor as text, as outputs and string transformers
// see it.
func asString[E any](acc Accessor[E]) func(*E) (string, bool) {
	switch acc.Kind {
	case KindString:
		return acc.Str
	case KindInt:
		return func(ev *E) (string, bool) {
			n, ok := acc.Int(ev)
			return strconv.FormatInt(n, 10), ok
		}
	case KindIP:
		return func(ev *E) (string, bool) {
			a, ok := acc.IP(ev)
			return a.String(), ok
		}
	case KindBytes:
		return func(ev *E) (string, bool) {
			b, ok := acc.Bytes(ev)
			return string(b), ok
		}
	}
	return func(ev *E) (string, bool) {
		k := acc.N(ev)
		if k == 0 {
			return "", false
		}
		vals := make([]string, k)
		for i := range vals {
			vals[i] = acc.At(ev, i)
		}
		return strings.Join(vals, ","), true
	}
}

// transformer compiles tolower, toupper, b64, basename and len over a
// field (or a nested transformer).
func (c *compiler[E]) transformer(t *condition.Transformer) (Accessor[E], error) {
	switch t.Name {
	case "join", "concat":
		return c.joiner(t)
	}
	if len(t.Args) != 1 {
		return Accessor[E]{}, fmt.Errorf("transformer '%s' takes one argument", t.Name)
	}
	inner, err := c.accessor(t.Args[0])
	if err != nil {
		return Accessor[E]{}, err
	}
	if t.Name == "len" {
		return lenOf(inner), nil
	}
	str := asString(inner)
	var fn func(string) (string, bool)
	switch t.Name {
	case "tolower":
		fn = func(s string) (string, bool) { return strings.ToLower(s), true }
	case "toupper":
		fn = func(s string) (string, bool) { return strings.ToUpper(s), true }
	case "basename":
		fn = func(s string) (string, bool) {
			if s == "" || strings.HasSuffix(s, "/") {
				return "", true
			}
			return path.Base(s), true
		}
	case "b64":
		fn = func(s string) (string, bool) {
			b, err := base64.StdEncoding.DecodeString(s)
			return string(b), err == nil
		}
	default:
		return Accessor[E]{}, fmt.Errorf("transformer '%s' is not supported yet", t.Name)
	}
	return Accessor[E]{Kind: KindString, Str: func(ev *E) (string, bool) {
		s, ok := str(ev)
		if !ok {
			return "", false
		}
		return fn(s)
	}}, nil
}

func lenOf[E any](inner Accessor[E]) Accessor[E] {
	if inner.Kind == KindList || inner.Kind == KindAny {
		return Accessor[E]{Kind: KindInt, Int: func(ev *E) (int64, bool) { return int64(inner.N(ev)), true }}
	}
	str := asString(inner)
	return Accessor[E]{Kind: KindInt, Int: func(ev *E) (int64, bool) {
		s, ok := str(ev)
		return int64(len(s)), ok
	}}
}

// joiner compiles join(sep, (a, b, ...)) and concat(a, b, ...): the
// values of fields and constants, joined; absent if any field is absent.
func (c *compiler[E]) joiner(t *condition.Transformer) (Accessor[E], error) {
	sep, items := "", t.Args
	if t.Name == "join" {
		s, okSep := t.Args[0].(*condition.Value)
		l, okList := t.Args[len(t.Args)-1].(*condition.TransformerList)
		if len(t.Args) != 2 || !okSep || !okList {
			return Accessor[E]{}, fmt.Errorf("join takes a separator and a list: join(\"-\", (f1, f2))")
		}
		sep, items = s.Value, l.Items
	}
	parts := make([]func(*E) (string, bool), len(items))
	for i, it := range items {
		if v, ok := it.(*condition.Value); ok {
			val := v.Value
			parts[i] = func(*E) (string, bool) { return val, true }
			continue
		}
		acc, err := c.accessor(it)
		if err != nil {
			return Accessor[E]{}, err
		}
		parts[i] = asString(acc)
	}
	return Accessor[E]{Kind: KindString, Str: func(ev *E) (string, bool) {
		var b strings.Builder
		for i, p := range parts {
			s, ok := p(ev)
			if !ok {
				return "", false
			}
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(s)
		}
		return b.String(), true
	}}, nil
}
