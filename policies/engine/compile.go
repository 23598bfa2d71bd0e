package engine

import (
	"fmt"
	"slices"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// pred is a compiled condition.
type pred[E any] func(*E) bool

// compiler turns condition ASTs into predicates for one source.
type compiler[E any] struct {
	src   Source[E]
	cat   *fields.Catalog
	codes map[string]int // the source's event type codes, nil if untyped
	// shared numbers the AST nodes several rules reach (expanded macros);
	// their predicates are memoized per event in memo.
	shared   map[condition.Expr]int
	memo     *memo
	compiled map[condition.Expr]pred[E]
	// missing lists the fields the rule reads that the source does not
	// extract: checks on them compile to "absent" (Rule.Unextracted).
	missing []string
}

func (c *compiler[E]) compile(e condition.Expr) (pred[E], error) {
	id, shared := c.shared[e]
	if !shared {
		return c.compileNode(e)
	}
	if p, ok := c.compiled[e]; ok {
		return p, nil
	}
	p, err := c.compileNode(e)
	if err != nil {
		return nil, err
	}
	p = memoized(c.memo, id, p)
	c.compiled[e] = p
	return p, nil
}

func (c *compiler[E]) compileNode(e condition.Expr) (pred[E], error) {
	switch n := e.(type) {
	case *condition.And:
		return c.logical(flatten(n.Children, true), true)
	case *condition.Or:
		return c.logical(flatten(n.Children, false), false)
	case *condition.Not:
		p, err := c.compile(n.Child)
		if err != nil {
			return nil, err
		}
		return func(ev *E) bool { return !p(ev) }, nil
	case *condition.UnaryCheck:
		acc, err := c.accessor(n.Left)
		if err != nil {
			return nil, err
		}
		return exists(acc), nil
	case *condition.BinaryCheck:
		return c.binary(n)
	}
	return nil, fmt.Errorf("unexpected %s in a compiled condition", condition.String(e))
}

func (c *compiler[E]) logical(children []condition.Expr, and bool) (pred[E], error) {
	ps := make([]pred[E], len(children))
	for i, ch := range children {
		p, err := c.compile(ch)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	if len(ps) == 2 {
		a, b := ps[0], ps[1]
		if and {
			return func(ev *E) bool { return a(ev) && b(ev) }, nil
		}
		return func(ev *E) bool { return a(ev) || b(ev) }, nil
	}
	if and {
		return func(ev *E) bool {
			for _, p := range ps {
				if !p(ev) {
					return false
				}
			}
			return true
		}, nil
	}
	return func(ev *E) bool {
		for _, p := range ps {
			if p(ev) {
				return true
			}
		}
		return false
	}, nil
}

// flatten lifts nested conjunctions (or disjunctions) into their parent:
// macros nest deeply, and each level would cost a call per event.
func flatten(children []condition.Expr, and bool) []condition.Expr {
	var out []condition.Expr
	for _, ch := range children {
		switch n := ch.(type) {
		case *condition.And:
			if and {
				out = append(out, flatten(n.Children, true)...)
				continue
			}
		case *condition.Or:
			if !and {
				out = append(out, flatten(n.Children, false)...)
				continue
			}
		}
		out = append(out, ch)
	}
	return out
}

// accessor resolves a field or transformer on the left side of a check.
func (c *compiler[E]) accessor(e condition.Expr) (Accessor[E], error) {
	switch n := e.(type) {
	case *condition.Field:
		fd, dotArg, ok := c.cat.Lookup(n.Name)
		if !ok {
			return Accessor[E]{}, fmt.Errorf("filter_check called with nonexistent field %s", n.Name)
		}
		arg := n.Arg
		if dotArg != "" {
			arg = dotArg
		}
		acc, ok := c.src.Accessor(fd, arg)
		if !ok {
			c.missing = append(c.missing, fd.Name)
			return absent[E](), nil
		}
		return acc, c.fits(fd, acc)
	case *condition.Transformer:
		return c.transformer(n)
	}
	return Accessor[E]{}, fmt.Errorf("expected a field, got %s", condition.String(e))
}

// fits checks that the source reads a field as its catalogue types it:
// the loader (rules/check.go) has checked every operator and literal
// against that type, and the engine compiles on that word alone.
func (c *compiler[E]) fits(fd *fields.Field, acc Accessor[E]) error {
	var want []Kind
	switch {
	case acc.Compare != nil:
		return nil // it compiles its checks itself
	case fd.Type == fields.IPAddr || fd.Type == fields.IPNet:
		want = []Kind{KindIP}
	case fd.Type.Numeric():
		want = []Kind{KindInt}
	case fd.Has(fields.IsList):
		want = []Kind{KindList}
	default:
		want = []Kind{KindString, KindBytes, KindAny}
	}
	if !slices.Contains(want, acc.Kind) {
		return fmt.Errorf("source %s reads %s as %s, which its catalogue type %s does not allow",
			c.src.Name(), fd.Name, acc.Kind, fd.Type)
	}
	return nil
}

func exists[E any](acc Accessor[E]) pred[E] {
	if acc.Has != nil {
		return acc.Has
	}
	switch acc.Kind {
	case KindInt:
		return func(ev *E) bool { _, ok := acc.Int(ev); return ok }
	case KindIP:
		return func(ev *E) bool { _, ok := acc.IP(ev); return ok }
	case KindBytes:
		return func(ev *E) bool { _, ok := acc.Bytes(ev); return ok }
	case KindList, KindAny:
		return func(ev *E) bool { return acc.N(ev) > 0 }
	}
	return func(ev *E) bool { _, ok := acc.Str(ev); return ok }
}
