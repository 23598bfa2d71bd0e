package condition

import "strings"

// String prints e in libsinsp's canonical form (ast::as_string): and/or
// groups in parentheses, values re-quoted only where they need it. Falco's
// "compiled condition" strings are in this form.
func String(e Expr) string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func writeJoined(b *strings.Builder, op string, children []Expr) {
	b.WriteByte('(')
	for i, c := range children {
		if i > 0 {
			b.WriteString(" " + op + " ")
		}
		c.write(b)
	}
	b.WriteByte(')')
}

func (e *And) write(b *strings.Builder) { writeJoined(b, "and", e.Children) }
func (e *Or) write(b *strings.Builder)  { writeJoined(b, "or", e.Children) }

func (e *Not) write(b *strings.Builder) {
	b.WriteString("not ")
	e.Child.write(b)
}

func (e *Identifier) write(b *strings.Builder) { b.WriteString(e.Name) }
func (e *Value) write(b *strings.Builder)      { b.WriteString(quote(e.Value)) }

func (e *List) write(b *strings.Builder) {
	b.WriteByte('(')
	for i, v := range e.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(v))
	}
	b.WriteByte(')')
}

func (e *Field) write(b *strings.Builder) {
	b.WriteString(e.Name)
	if e.Arg != "" {
		b.WriteString("[" + quoteArg(e.Arg) + "]")
	}
}

// writeArg prints a transformer argument. There a string must be quoted
// (the grammar takes no bare strings), so it is quoted even without blanks.
func writeArg(b *strings.Builder, a Expr) {
	v, ok := a.(*Value)
	if !ok {
		a.write(b)
		return
	}
	l := lexer{in: v.Value}
	if (l.hexNum() || l.num()) && l.pos.Offset == len(v.Value) {
		b.WriteString(v.Value)
		return
	}
	q := quote(v.Value)
	if !strings.HasPrefix(q, `"`) {
		q = `"` + q + `"`
	}
	b.WriteString(q)
}

func (e *Transformer) write(b *strings.Builder) {
	b.WriteString(e.Name + "(")
	for i, a := range e.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeArg(b, a)
	}
	b.WriteByte(')')
	if e.Arg != "" {
		b.WriteString("[" + quoteArg(e.Arg) + "]")
	}
}

func (e *TransformerList) write(b *strings.Builder) {
	b.WriteByte('(')
	for i, a := range e.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeArg(b, a)
	}
	b.WriteByte(')')
}

func (e *UnaryCheck) write(b *strings.Builder) {
	e.Left.write(b)
	b.WriteString(" " + e.Op)
}

func (e *BinaryCheck) write(b *strings.Builder) {
	e.Left.write(b)
	b.WriteString(" " + e.Op + " ")
	if e.Modifier != "" {
		b.WriteString(e.Modifier + " ")
	}
	e.Right.write(b)
}

// quote returns s as libsinsp prints a value: unchanged unless it holds a
// blank, a quote, a backslash or a control escape, in which case it is
// double-quoted with those characters escaped.
//
// Unlike libsinsp, an empty value, or one with a character that ends a
// bare string ("(", ")", ",", "="), is quoted too, so the printed form
// always parses again; values libsinsp prints bare print the same here.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \b\f\n\r\t\v\\\"'(),=") {
		return s
	}
	return quoted(s)
}

// quoteArg prints a field argument: bare unless it holds a character a
// bare argument cannot.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \b\f\n\r\t\v\"'[]") {
		return s
	}
	return quoted(s)
}

func quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\\':
			if i == len(s)-1 {
				// libsinsp's lexer never ends a string after a backslash,
				// so a final backslash uses the legacy "\ " escape.
				b.WriteString(`\ `)
			} else {
				b.WriteString(`\\`)
			}
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// unquote decodes a quoted string token (delimiters included) the way
// libsinsp's unescape_str does.
func unquote(tok string) (string, error) {
	var b strings.Builder
	escaped := false
	for i := 1; i < len(tok)-1; i++ {
		c := tok[i]
		if !escaped {
			if c == '\\' {
				escaped = true
			} else {
				b.WriteByte(c)
			}
			continue
		}
		escaped = false
		switch c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case ' ', '\\':
			// "\ " is a legacy escape some upstream rules still use.
			b.WriteByte('\\')
		case '/':
			b.WriteByte('/')
		case '"', '\'':
			if tok[0] != c {
				if c == '"' {
					return "", errString(`invalid \" escape in '-quoted string`)
				}
				return "", errString(`invalid \' escape in "-quoted string`)
			}
			b.WriteByte(c)
		default:
			return "", errString(`unsupported string escape sequence: \` + string(c))
		}
	}
	return b.String(), nil
}

type errString string

func (e errString) Error() string { return string(e) }
