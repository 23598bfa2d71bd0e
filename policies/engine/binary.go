package engine

import (
	"fmt"
	"net/netip"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

func rhsValues(r condition.Expr) ([]string, bool) {
	switch v := r.(type) {
	case *condition.Value:
		return []string{v.Value}, true
	case *condition.List:
		return v.Values, true
	}
	return nil, false
}

func (c *compiler[E]) binary(n *condition.BinaryCheck) (pred[E], error) {
	if p := c.evttypeCheck(n); p != nil {
		return p, nil
	}
	acc, err := c.accessor(n.Left)
	if err != nil {
		return nil, err
	}
	if len(acc.Either) > 0 {
		return c.either(acc.Either, n)
	}
	return c.check(acc, n)
}

// either compiles a check of a field that stands for two values (fd.ip:
// the client or the server address), as libsinsp does: = and in hold when
// one of them does, != only when both do.
func (c *compiler[E]) either(sides []Accessor[E], n *condition.BinaryCheck) (pred[E], error) {
	preds := make([]pred[E], len(sides))
	for i, side := range sides {
		p, err := c.check(side, n)
		if err != nil {
			return nil, err
		}
		preds[i] = p
	}
	all := n.Op == "!="
	return func(ev *E) bool {
		for _, p := range preds {
			if p(ev) != all {
				return !all
			}
		}
		return all
	}, nil
}

// check compiles a comparison of the field read by acc.
func (c *compiler[E]) check(acc Accessor[E], n *condition.BinaryCheck) (pred[E], error) {
	vals, constant := rhsValues(n.Right)
	if acc.Compare != nil {
		if !constant || n.Modifier != "" {
			return nil, fmt.Errorf("%s can only be compared with constant values", condition.String(n.Left))
		}
		p, err := acc.Compare(n.Op, vals)
		return pred[E](p), err
	}
	if !constant {
		return c.dynamic(acc, n)
	}
	switch acc.Kind {
	case KindInt:
		return intCheck(acc, n.Op, vals)
	case KindIP:
		return ipCheck(acc, n.Op, vals)
	case KindBytes:
		m, err := stringMatcher(n, vals)
		if err != nil {
			return nil, err
		}
		return func(ev *E) bool { b, ok := acc.Bytes(ev); return ok && m(string(b)) }, nil
	case KindList:
		return listCheck(acc, n.Op, vals)
	}
	m, err := stringMatcher(n, vals)
	if err != nil {
		return nil, err
	}
	if acc.Kind == KindAny {
		return func(ev *E) bool {
			for i, k := 0, acc.N(ev); i < k; i++ {
				if m(acc.At(ev, i)) {
					return true
				}
			}
			return false
		}, nil
	}
	return func(ev *E) bool { s, ok := acc.Str(ev); return ok && m(s) }, nil
}

// evttypeCheck compiles evt.type = / != / in against a typed source into a
// table lookup on the event's type code: nearly every syscall rule starts
// with one, so it is worth not comparing strings.
func (c *compiler[E]) evttypeCheck(n *condition.BinaryCheck) pred[E] {
	f, ok := n.Left.(*condition.Field)
	vals, constant := rhsValues(n.Right)
	codes := c.codes
	if !ok || f.Name != "evt.type" || !constant || codes == nil || n.Modifier != "" {
		return nil
	}
	neg := false
	switch n.Op {
	case "=", "==", "in", "intersects":
	case "!=":
		neg = true
	default:
		return nil
	}
	size := 0
	for _, code := range codes {
		size = max(size, code+1)
	}
	table := make([]bool, size)
	for _, v := range vals {
		if code, ok := codes[v]; ok {
			table[code] = true
		}
	}
	typeCode := c.src.TypeCode
	return func(ev *E) bool {
		code := typeCode(ev)
		return code >= 0 && code < len(table) && table[code] != neg
	}
}

func stringMatcher(n *condition.BinaryCheck, vals []string) (strMatcher, error) {
	_, isList := n.Right.(*condition.List)
	switch {
	case n.Modifier != "":
		return modifierOp(n.Op, n.Modifier, vals)
	case n.Op == "in" || n.Op == "intersects" || n.Op == "pmatch":
		return listOp(n.Op, vals)
	case isList:
		return nil, fmt.Errorf("'%s' needs a single value, not a list", n.Op)
	}
	return stringOp(n.Op, vals[0])
}

// listCheck: for a list field, "in" holds when every value is in the set
// and "intersects" when any is; no values means absent (false). The
// loader allows no other operator on a list field.
func listCheck[E any](acc Accessor[E], op string, vals []string) (pred[E], error) {
	set := newStrSet(vals)
	all := op == "in"
	return func(ev *E) bool {
		k := acc.N(ev)
		if k == 0 {
			return false
		}
		for i := 0; i < k; i++ {
			if set.has(acc.At(ev, i)) != all {
				return !all
			}
		}
		return all
	}, nil
}

// parseInt reads a literal of a numeric field, booleans as 1 and 0.
func parseInt(v string) (int64, error) {
	switch v {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	return fields.ParseInt(v)
}

func intCheck[E any](acc Accessor[E], op string, vals []string) (pred[E], error) {
	nums := make([]int64, len(vals))
	for i, v := range vals {
		n, err := parseInt(v)
		if err != nil {
			return nil, fmt.Errorf("could not parse '%s' as a number", v)
		}
		nums[i] = n
	}
	var m func(int64) bool
	switch op {
	case "in", "intersects":
		m = func(x int64) bool {
			for _, n := range nums {
				if x == n {
					return true
				}
			}
			return false
		}
	default:
		var err error
		if m, err = intOp(op, nums[0]); err != nil {
			return nil, err
		}
	}
	return func(ev *E) bool { x, ok := acc.Int(ev); return ok && m(x) }, nil
}

// ipCheck compares addresses; a constant in CIDR form matches the
// addresses it contains.
func ipCheck[E any](acc Accessor[E], op string, vals []string) (pred[E], error) {
	nets := make([]netip.Prefix, len(vals))
	for i, v := range vals {
		p, err := fields.ParseNet(v)
		if err != nil {
			return nil, fmt.Errorf("could not parse '%s' as an ip address or network", v)
		}
		nets[i] = p
	}
	in := func(a netip.Addr) bool {
		for _, n := range nets {
			if n.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	// The loader allows =, ==, in, intersects, pmatch and != on addresses.
	if op == "!=" {
		return func(ev *E) bool { a, ok := acc.IP(ev); return ok && !in(a) }, nil
	}
	return func(ev *E) bool { a, ok := acc.IP(ev); return ok && in(a) }, nil
}

// dynamic compiles a check whose right side is a field (val) or a
// transformer, compared as strings or numbers. The operator is resolved
// here, once, not per event.
func (c *compiler[E]) dynamic(acc Accessor[E], n *condition.BinaryCheck) (pred[E], error) {
	racc, err := c.accessor(unwrapVal(n.Right))
	if err != nil {
		return nil, err
	}
	if acc.Kind == KindInt && racc.Kind == KindInt {
		cmpInt := pairOf[int64](n.Op)
		return func(ev *E) bool {
			l, ok1 := acc.Int(ev)
			r, ok2 := racc.Int(ev)
			return ok1 && ok2 && cmpInt(l, r)
		}, nil
	}
	ls, rs, cmpStr := asString(acc), asString(racc), pairOf[string](n.Op)
	return func(ev *E) bool {
		l, ok1 := ls(ev)
		r, ok2 := rs(ev)
		return ok1 && ok2 && cmpStr(l, r)
	}, nil
}

func unwrapVal(e condition.Expr) condition.Expr {
	if t, ok := e.(*condition.Transformer); ok && t.Name == "val" {
		return t.Args[0]
	}
	return e
}
