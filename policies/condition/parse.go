package condition

import (
	"strconv"
	"strings"
)

// DefaultMaxDepth is libsinsp's default recursion limit for the parser.
const DefaultMaxDepth = 100

// SyntaxError is a parse failure at a position of the condition.
type SyntaxError struct {
	Msg string
	Pos Pos
}

func (e *SyntaxError) Error() string { return e.Msg }

var (
	unaryOps   = []string{"exists"}
	numOps     = []string{"<=", "<", ">=", ">"}
	strOps     = []string{"==", "=", "!=", "glob ", "iglob ", "contains ", "icontains ", "bcontains ", "startswith ", "bstartswith ", "endswith ", "regex "}
	listOps    = []string{"intersects", "in", "pmatch"}
	modifiers  = []string{"oneof", "anyof", "allof"}
	transforms = []string{"tolower(", "toupper(", "b64(", "basename(", "len(", "join(", "concat(", "getopt("}
)

// Operators lists every comparison operator, as named in error messages.
func Operators() []string {
	var ops []string
	for _, set := range [][]string{unaryOps, numOps, strOps, listOps} {
		for _, op := range set {
			ops = append(ops, strings.TrimSpace(op))
		}
	}
	return ops
}

// Modifiers lists the string-operator modifiers (libs 0.25).
func Modifiers() []string { return modifiers }

func quotedList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}

func transformerNames(withVal bool) string {
	var names []string
	if withVal {
		names = append(names, "val")
	}
	for _, t := range transforms {
		names = append(names, strings.TrimSuffix(t, "("))
	}
	return quotedList(names)
}

type parser struct {
	lexer
	depth, maxDepth int
}

type bail struct{ err *SyntaxError }

// Parse parses a condition with the default depth limit.
func Parse(in string) (Expr, error) { return ParseDepth(in, DefaultMaxDepth) }

// ParseDepth parses a condition, failing beyond maxDepth nested calls.
func ParseDepth(in string, maxDepth int) (e Expr, err error) {
	p := &parser{lexer: lexer{in: in, pos: Pos{Line: 1, Column: 1}}, maxDepth: maxDepth}
	if in == "" {
		return nil, &SyntaxError{Msg: "filter input string is empty", Pos: p.pos}
	}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bail)
			if !ok {
				panic(r)
			}
			e, err = nil, b.err
		}
	}()
	e = p.parseOr()
	if p.pos.Offset != len(in) {
		p.fail("unexpected token after '" + p.last + "', expecting 'or', 'and'")
	}
	return e, nil
}

func (p *parser) fail(msg string) { panic(bail{&SyntaxError{Msg: msg, Pos: p.pos}}) }

func (p *parser) enter() {
	p.depth++
	if p.depth >= p.maxDepth {
		p.fail("exceeded max depth limit of " + strconv.Itoa(p.maxDepth))
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) quoted() bool {
	ok, err := p.lexer.quoted()
	if err != nil {
		p.fail(err.Error())
	}
	return ok
}

func (p *parser) parseOr() Expr { return p.parseLogical("or", p.parseAnd) }

func (p *parser) parseAnd() Expr { return p.parseLogical("and", p.parseNot) }

func (p *parser) parseLogical(kw string, next func() Expr) Expr {
	p.enter()
	defer p.leave()
	pos := p.pos
	p.blank()
	children := []Expr{next()}
	p.blank()
	for p.str(kw) {
		if p.blank() {
			children = append(children, next())
		} else if p.str("(") {
			children = append(children, p.parseEmbedded())
		} else {
			p.fail("expected blank or '(' after '" + kw + "'")
		}
		p.blank()
	}
	if len(children) == 1 {
		return children[0]
	}
	if kw == "or" {
		return &Or{Children: children, Pos: pos}
	}
	return &And{Children: children, Pos: pos}
}

func (p *parser) notBlank() bool {
	r := p.rest()
	if !strings.HasPrefix(r, "not") || len(r) < 4 || !isSpace(r[3]) {
		return false
	}
	n := 4
	for n < len(r) && isSpace(r[n]) {
		n++
	}
	return p.take(n)
}

func (p *parser) parseNot() Expr {
	p.enter()
	defer p.leave()
	pos := p.pos
	p.blank()
	neg := false
	for p.notBlank() {
		neg = !neg
	}
	var child Expr
	if p.str("not(") {
		neg = !neg
		child = p.parseEmbedded()
	} else {
		child = p.parseCheck()
	}
	if neg {
		return &Not{Child: child, Pos: pos}
	}
	return child
}

// parseEmbedded parses the rest of a parenthesised expression after '('.
func (p *parser) parseEmbedded() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	child := p.parseOr()
	p.blank()
	if !p.str(")") {
		p.fail("expected a ')' token")
	}
	return child
}

func (p *parser) parseCheck() Expr {
	p.enter()
	defer p.leave()
	pos := p.pos
	p.blank()
	if p.str("(") {
		return p.parseEmbedded()
	}
	if p.fieldName() {
		return p.parseCondition(p.parseFieldRest(p.last, pos), pos)
	}
	if p.strList(transforms) {
		p.blank()
		return p.parseCondition(p.parseTransformerRest(strings.TrimSuffix(p.last, "("), pos), pos)
	}
	if p.identifier() {
		return &Identifier{Name: p.last, Pos: pos}
	}
	p.fail("expected a '(' token, a field check, or an identifier")
	return nil
}

// parseFieldArg parses an optional [arg] after a field or transformer.
func (p *parser) parseFieldArg() (string, bool) {
	if !p.str("[") {
		return "", false
	}
	if !p.quoted() && !p.fieldArgBare() {
		p.fail("expected a valid field argument: a quoted string or a bare string")
	}
	arg := p.last
	if !p.str("]") {
		p.fail("expected a ']' token")
	}
	return arg, true
}

func (p *parser) parseFieldRest(name string, pos Pos) Expr {
	p.enter()
	defer p.leave()
	f := &Field{Name: name, Pos: pos}
	f.Arg, f.HasArg = p.parseFieldArg()
	return f
}
