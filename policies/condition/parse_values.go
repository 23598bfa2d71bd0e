package condition

import "strings"

// parseTransformerRest parses a transformer's arguments after "name(".
func (p *parser) parseTransformerRest(name string, pos Pos) Expr {
	p.enter()
	defer p.leave()
	p.blank()
	t := &Transformer{Name: name, Pos: pos}
	for {
		t.Args = append(t.Args, p.parseTransformerArg(p.pos))
		p.blank()
		if !p.str(",") {
			break
		}
	}
	p.blank()
	if !p.str(")") {
		p.fail("expected a ')' token closing the transformer")
	}
	t.Arg, t.HasArg = p.parseFieldArg()
	return t
}

// parseTransformerArg parses a field, a nested transformer, a quoted string,
// a number or a transformer list.
func (p *parser) parseTransformerArg(pos Pos) Expr {
	p.enter()
	defer p.leave()
	p.blank()
	switch {
	case p.hexNum() || p.num():
		return &Value{Value: p.last, Pos: pos}
	case p.quoted():
		return &Value{Value: p.last, Pos: pos}
	case p.str("("):
		return p.parseTransformerList(pos)
	case p.strList(transforms):
		return p.parseTransformerRest(strings.TrimSuffix(p.last, "("), pos)
	case p.fieldName():
		return p.parseFieldRest(p.last, pos)
	}
	p.fail("expected field transformer argument: field, transformer, quoted string, number, or transformer list")
	return nil
}

func (p *parser) parseTransformerList(pos Pos) Expr {
	l := &TransformerList{Pos: pos}
	p.blank()
	if p.str(")") {
		return l
	}
	l.Items = append(l.Items, p.parseTransformerListArg(pos))
	p.blank()
	for p.str(",") {
		p.blank()
		l.Items = append(l.Items, p.parseTransformerListArg(pos))
		p.blank()
	}
	if !p.str(")") {
		p.fail("expected ')'")
	}
	return l
}

func (p *parser) parseTransformerListArg(pos Pos) Expr {
	switch {
	case p.fieldName():
		return p.parseFieldRest(p.last, pos)
	case p.strList(transforms):
		p.blank()
		return p.parseTransformerRest(strings.TrimSuffix(p.last, "("), pos)
	case p.quoted():
		return &Value{Value: p.last, Pos: pos}
	case p.hexNum() || p.num():
		return &Value{Value: p.last, Pos: pos}
	}
	p.fail("expected transformer list argument: field, transformer, quoted string, or number")
	return nil
}

func (p *parser) parseCondition(left Expr, pos Pos) Expr {
	p.enter()
	defer p.leave()
	p.blank()
	if p.operator(unaryOps) {
		return &UnaryCheck{Left: left, Op: p.last, Pos: pos}
	}
	p.blank()
	check := &BinaryCheck{Left: left, Pos: pos}
	switch {
	case p.operator(numOps):
		check.Op = strings.TrimSpace(p.last)
		check.Right = p.parseNumValue()
	case p.operator(strOps):
		check.Op = strings.TrimSpace(p.last)
		if !p.parseModifier(check) {
			check.Right = p.parseStrValue(false)
		}
	case p.operator(listOps):
		check.Op = p.last
		check.Right = p.parseListValue()
	default:
		p.fail("expected a valid check operator: one of " + quotedList(Operators()))
	}
	return check
}

// parseModifier recognises "op oneof|anyof|allof LIST". The modifier needs a
// blank on both sides and a list or list name after it; otherwise the word
// is an ordinary bare-string value (proc.name = oneof).
func (p *parser) parseModifier(check *BinaryCheck) bool {
	save, saveLast := p.pos, p.last
	if !p.blank() && !p.precededByBlank() || !p.strList(modifiers) {
		p.pos, p.last = save, saveLast
		return false
	}
	mod := p.last
	if p.blank() {
		switch r := p.rest(); {
		case strings.HasPrefix(r, "("):
			check.Modifier, check.Right = mod, p.parseListValue()
			return true
		case identLen(r) > 0 && !isKeyword(r[:identLen(r)]):
			check.Modifier, check.Right = mod, p.parseListValue()
			return true
		}
	}
	p.pos, p.last = save, saveLast
	return false
}

func isKeyword(s string) bool { return s == "and" || s == "or" || s == "not" }

func (p *parser) precededByBlank() bool {
	return p.pos.Offset > 0 && isBlank(p.in[p.pos.Offset-1])
}

// tryTransformerOrVal parses val(field) or a transformer, or returns nil.
func (p *parser) tryTransformerOrVal() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos
	if p.str("val(") {
		p.blank()
		fpos := p.pos
		if !p.fieldName() {
			p.fail("expected a field within 'val' transformer")
		}
		f := p.parseFieldRest(p.last, fpos)
		p.blank()
		if !p.str(")") {
			p.fail("expected a ')' token closing the transformer")
		}
		return &Transformer{Name: "val", Args: []Expr{f}, Pos: pos}
	}
	if p.strList(transforms) {
		p.blank()
		return p.parseTransformerRest(strings.TrimSuffix(p.last, "("), pos)
	}
	return nil
}

func (p *parser) parseNumValue() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos
	if t := p.tryTransformerOrVal(); t != nil {
		return t
	}
	if p.hexNum() || p.num() {
		return &Value{Value: p.last, Pos: pos}
	}
	p.fail("expected a number value or a field with a valid transformer: " + transformerNames(true))
	return nil
}

func (p *parser) parseStrValue(noTransformer bool) Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos
	if !noTransformer {
		if t := p.tryTransformerOrVal(); t != nil {
			return t
		}
	}
	if p.quoted() || p.bareStr() {
		return &Value{Value: p.last, Pos: pos}
	}
	if noTransformer {
		p.fail("expected a string value")
	}
	p.fail("expected a string value or a field with a valid transformer: " + transformerNames(true))
	return nil
}

func (p *parser) parseListValue() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos
	if p.str("(") {
		return p.parseListItems(pos)
	}
	if t := p.tryTransformerOrVal(); t != nil {
		return t
	}
	if p.identifier() {
		return &Value{Value: p.last, Pos: pos}
	}
	p.fail("expected a list, an identifier, or a field with a valid transformer: " + transformerNames(true))
	return nil
}

// parseListItems parses "v1, v2, ...)" after '('; an empty list is allowed.
func (p *parser) parseListItems(pos Pos) Expr {
	l := &List{Pos: pos, Values: []string{}}
	p.blank()
	if p.quoted() || p.bareStr() {
		l.Values = append(l.Values, p.last)
		p.blank()
		for p.str(",") {
			p.blank()
			if !p.quoted() && !p.bareStr() {
				p.fail("expected a string value")
			}
			l.Values = append(l.Values, p.last)
			p.blank()
		}
	}
	if !p.str(")") {
		p.fail("expected a ')' token")
	}
	return l
}
