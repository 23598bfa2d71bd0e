package engine

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// operator is what one comparison operator means, in each form the
// engine compiles a check to. A nil form is one the operator does not
// have: a check that needs it is refused when compiled against a constant
// and never matches between two runtime values (the loader's type check
// refuses most such rules before they get here).
type operator struct {
	// str compares a field's string l with r: a constant, or another
	// field's value at runtime.
	str func(l, r string) bool
	// num compares numbers.
	num func(l, r int64) bool
	// against compiles a comparison with one constant, once, where str
	// cannot take the constant as it is (a regex, hex bytes).
	against func(r string) (strMatcher, error)
}

// operators is every binary comparison of the condition language but the
// list ones (in, intersects, pmatch against a list: listOp), which the
// engine compiles to sets; between two runtime values, in and intersects
// are equality, as in libsinsp.
var operators = map[string]operator{
	"=":           {str: equal[string], num: equal[int64]},
	"==":          {str: equal[string], num: equal[int64]},
	"in":          {str: equal[string], num: equal[int64]},
	"intersects":  {str: equal[string], num: equal[int64]},
	"!=":          {str: unequal[string], num: unequal[int64]},
	"<":           {str: less[string], num: less[int64]},
	"<=":          {str: lessEq[string], num: lessEq[int64]},
	">":           {str: greater[string], num: greater[int64]},
	">=":          {str: greaterEq[string], num: greaterEq[int64]},
	"contains":    {str: strings.Contains},
	"icontains":   {str: containsFold},
	"startswith":  {str: strings.HasPrefix},
	"endswith":    {str: strings.HasSuffix},
	"glob":        {str: func(l, r string) bool { return glob(r, l, false) }},
	"iglob":       {str: func(l, r string) bool { return glob(r, l, true) }},
	"pmatch":      {str: func(l, r string) bool { return pathMatch([]string{r}, l) }},
	"regex":       {against: regexOp},
	"bcontains":   {against: hexOp("bcontains", strings.Contains)},
	"bstartswith": {against: hexOp("bstartswith", strings.HasPrefix)},
}

func equal[T comparable](l, r T) bool         { return l == r }
func unequal[T comparable](l, r T) bool       { return l != r }
func less[T string | int64](l, r T) bool      { return l < r }
func lessEq[T string | int64](l, r T) bool    { return l <= r }
func greater[T string | int64](l, r T) bool   { return l > r }
func greaterEq[T string | int64](l, r T) bool { return l >= r }
func never[T any](T, T) bool                  { return false }

// regexOp matches the whole string, as libsinsp's regex operator does.
func regexOp(r string) (strMatcher, error) {
	re, err := regexp.Compile(`^(?:` + r + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid regex '%s': %w", r, err)
	}
	return re.MatchString, nil
}

// hexOp compiles a comparison with a constant written as hex bytes.
func hexOp(op string, cmp func(s, b string) bool) func(string) (strMatcher, error) {
	return func(r string) (strMatcher, error) {
		b, err := hex.DecodeString(r)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid hex byte string for '%s'", r, op)
		}
		bs := string(b)
		return func(s string) bool { return cmp(s, bs) }, nil
	}
}

// listOps take a list of constants (listOp), never one alone.
func listOps(op string) bool { return op == "in" || op == "intersects" || op == "pmatch" }

// stringOp compiles op against one constant. Equality, the most common
// check by far, gets a closure of its own rather than a call through the
// table.
func stringOp(op, v string) (strMatcher, error) {
	o, ok := operators[op]
	switch {
	case ok && o.against != nil:
		return o.against(v)
	case !ok || o.str == nil || listOps(op):
		return nil, fmt.Errorf("'%s' operator not supported for string filters", op)
	case op == "=" || op == "==":
		return func(s string) bool { return s == v }, nil
	}
	cmp := o.str
	return func(s string) bool { return cmp(s, v) }, nil
}

// intOp compiles op against one number.
func intOp(op string, n int64) (func(int64) bool, error) {
	o := operators[op]
	if o.num == nil || listOps(op) {
		return nil, fmt.Errorf("'%s' operator not supported for numeric filters", op)
	}
	cmp := o.num
	return func(x int64) bool { return cmp(x, n) }, nil
}

// pairOf is op between two runtime strings (l a field's value, r the
// other's), or between two runtime numbers.
func pairOf[T string | int64](op string) func(l, r T) bool {
	var f any
	switch o := operators[op]; any(*new(T)).(type) {
	case string:
		f = o.str
	case int64:
		f = o.num
	}
	if cmp, _ := f.(func(l, r T) bool); cmp != nil {
		return cmp
	}
	return never[T]
}
