package rules

import (
	"slices"
	"strconv"
	"strings"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// checker validates a condition against one source's field catalogue, the
// way libsinsp's filter compiler does when Falco loads a rule.
type checker struct {
	cat      *fields.Catalog
	warn     func(msg string, p condition.Pos, code Code)
	warnedNA bool
}

type checkError struct {
	msg string
	pos condition.Pos
}

func (l *Loader) checker(src string) *checker {
	return &checker{cat: l.catalogs[src], warn: func(string, condition.Pos, Code) {}}
}

func (c *checker) fail(msg string, p condition.Pos) { panic(checkError{msg, p}) }

// run checks e and returns the first error, if any.
func (c *checker) run(e condition.Expr) (err *checkError) {
	defer func() {
		if r := recover(); r != nil {
			ce, ok := r.(checkError)
			if !ok {
				panic(r)
			}
			err = &ce
		}
	}()
	c.walk(e)
	return nil
}

func (c *checker) walk(e condition.Expr) {
	switch n := e.(type) {
	case *condition.And:
		for _, ch := range n.Children {
			c.walk(ch)
		}
	case *condition.Or:
		for _, ch := range n.Children {
			c.walk(ch)
		}
	case *condition.Not:
		c.walk(n.Child)
	case *condition.UnaryCheck:
		c.lhs(n.Left)
	case *condition.BinaryCheck:
		c.binary(n)
	case *condition.Identifier:
		c.fail("Undefined macro '"+n.Name+"' used in filter.", n.Pos)
	}
}

// field resolves a field reference and checks its argument.
func (c *checker) field(f *condition.Field) *fields.Field {
	fd, dotArg, ok := c.cat.Lookup(f.Name)
	if !ok {
		c.fail("filter_check called with nonexistent field "+f.Name, f.Pos)
	}
	hasArg := f.HasArg || dotArg != ""
	if fd.Has(fields.ArgRequired) && !hasArg {
		c.fail("filter "+f.Name+" requires an argument", f.Pos)
	}
	if hasArg && !fd.Has(fields.ArgRequired) && !fd.Has(fields.ArgAllowed) {
		c.fail("filter "+f.Name+" does not support arguments", f.Pos)
	}
	if fd.Has(fields.Deprecated) && fd.Name == "evt.dir" {
		c.warn("usage of deprecated field 'evt.dir' has been detected in the rule condition", f.Pos, WarnDeprecatedItem)
	}
	return fd
}

// lhs checks the left side of a check and returns its type and whether it
// is a list.
func (c *checker) lhs(e condition.Expr) (fields.Type, bool) {
	switch n := e.(type) {
	case *condition.Field:
		fd := c.field(n)
		return fd.Type, fd.Has(fields.IsList)
	case *condition.Transformer:
		return c.transformer(n)
	}
	c.fail("expected a field or a transformer", e.Position())
	return 0, false
}

func (c *checker) transformer(t *condition.Transformer) (fields.Type, bool) {
	for _, a := range t.Args {
		switch n := a.(type) {
		case *condition.Field, *condition.Transformer:
			c.lhs(n)
		case *condition.TransformerList:
			for _, it := range n.Items {
				if _, isVal := it.(*condition.Value); !isVal {
					c.lhs(it)
				}
			}
		}
	}
	switch t.Name {
	case "getopt":
		c.fail("transformer 'getopt' is not supported yet", t.Pos)
	case "len":
		return fields.Uint64, false
	case "val":
		return c.lhs(t.Args[0])
	}
	return fields.String, false
}

// lhsKnown reports whether every field of an LHS expression exists.
func (c *checker) lhsKnown(e condition.Expr) bool {
	if c.cat == nil {
		return false
	}
	return c.run(&condition.UnaryCheck{Left: e, Op: "exists"}) == nil
}

// msgUnsafeNA is Falco's warning text, double blank included.
const msgUnsafeNA = "comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of the rule " +
	"condition. If you need to  check for the existence of a field, consider using the 'exists' operator instead."

// unsafeNACheck reports an equality check of a k8s_audit field against
// "<NA>", which never matches an absent field in Falco ≥ 0.33.
func unsafeNACheck(n *condition.BinaryCheck) bool {
	f, ok := n.Left.(*condition.Field)
	if !ok || !(strings.HasPrefix(f.Name, "ka.") || strings.HasPrefix(f.Name, "jevt.")) {
		return false
	}
	switch n.Op {
	case "=", "==", "!=", "in", "intersects", "pmatch":
	default:
		return false
	}
	switch r := n.Right.(type) {
	case *condition.Value:
		return r.Value == "<NA>"
	case *condition.List:
		return slices.Contains(r.Values, "<NA>")
	}
	return false
}

func (c *checker) binary(n *condition.BinaryCheck) {
	if unsafeNACheck(n) && !c.warnedNA {
		c.warnedNA = true
		c.warn(msgUnsafeNA, n.Pos, WarnUnsafeNACheck)
	}
	typ, isList := c.lhs(n.Left)
	if isList && n.Op != "in" && n.Op != "intersects" {
		c.fail("list filter '"+condition.String(n.Left)+"' only supports operators 'exists', 'in' and 'intersects'", n.Pos)
	}
	c.operator(n.Op, typ, n.Pos)
	switch r := n.Right.(type) {
	case *condition.Value:
		c.value(r.Value, typ, r.Pos)
		if fd, _, ok := c.cat.Lookup(strings.TrimSpace(r.Value)); ok && fd != nil && strings.Contains(r.Value, ".") {
			c.warn("'"+r.Value+"' may be a valid field misused as a const string value", r.Pos, WarnCompileCondition)
		}
	case *condition.List:
		for _, v := range r.Values {
			c.value(v, typ, r.Pos)
		}
	case *condition.Transformer:
		c.transformer(r)
	}
}

func (c *checker) operator(op string, typ fields.Type, p condition.Pos) {
	switch {
	case typ.Numeric() && typ != fields.Bool:
		switch op {
		case "=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects":
			return
		}
		c.fail("'"+op+"' operator not supported for numeric filters", p)
	case typ == fields.Bool:
		switch op {
		case "=", "==", "!=", "in", "intersects":
			return
		}
		c.fail("'"+op+"' operator not supported for boolean filters", p)
	case typ == fields.IPAddr || typ == fields.IPNet:
		switch op {
		case "=", "==", "!=", "in", "intersects", "pmatch":
			return
		}
		c.fail("'"+op+"' operator not supported for ip address and network filters", p)
	}
}

// value checks that a literal can be compared with a field of type typ.
func (c *checker) value(v string, typ fields.Type, p condition.Pos) {
	ok := true
	switch typ {
	case fields.Bool:
		ok = v == "true" || v == "false"
	case fields.Int64, fields.Int32, fields.Int16, fields.Uint64, fields.Uint32, fields.RelTime, fields.AbsTime, fields.Port:
		_, err := fields.ParseInt(v)
		ok = err == nil
	case fields.Double:
		_, err := strconv.ParseFloat(v, 64)
		ok = err == nil
	case fields.IPAddr, fields.IPNet:
		_, err := fields.ParseNet(v)
		ok = err == nil
	}
	if !ok {
		c.fail("could not parse '"+v+"' as a "+strings.ToLower(typ.String())+" value", p)
	}
}
