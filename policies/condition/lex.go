package condition

import "strings"

// The lexer works directly on the input with a cursor, as libsinsp's does:
// the grammar is whitespace-sensitive ("and" needs a blank or '(' after it,
// word operators need a blank) so a separate token stream would lose the
// information the parser needs.

type lexer struct {
	in   string
	pos  Pos
	last string // the last token lexed; blanks do not count
}

func (l *lexer) rest() string { return l.in[l.pos.Offset:] }

func (l *lexer) peek() byte {
	if l.pos.Offset < len(l.in) {
		return l.in[l.pos.Offset]
	}
	return 0
}

func (l *lexer) advance(n int) {
	for _, c := range []byte(l.in[l.pos.Offset : l.pos.Offset+n]) {
		l.pos.Column++
		if c == '\r' || c == '\n' {
			l.pos.Column = 1
			l.pos.Line++
		}
		l.pos.Offset++
	}
}

// take consumes n bytes as the last token.
func (l *lexer) take(n int) bool {
	if n <= 0 {
		return false
	}
	l.last = l.in[l.pos.Offset : l.pos.Offset+n]
	l.advance(n)
	return true
}

// isBlank is the parser's notion of a blank (lex_blank).
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n'
}

// isSpace is POSIX [[:space:]], used inside the token regexes.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_'
}

func (l *lexer) blank() bool {
	n := 0
	for r := l.rest(); n < len(r) && isBlank(r[n]); n++ {
	}
	l.advance(n)
	return n > 0
}

func (l *lexer) str(s string) bool {
	if strings.HasPrefix(l.rest(), s) {
		return l.take(len(s))
	}
	return false
}

func (l *lexer) strList(list []string) bool {
	for _, s := range list {
		if l.str(s) {
			return true
		}
	}
	return false
}

// operator lexes one of ops; a word operator must be followed by a blank,
// which it consumes.
func (l *lexer) operator(ops []string) bool {
	for _, op := range ops {
		if !strings.HasSuffix(op, " ") {
			if l.str(op) {
				return true
			}
			continue
		}
		if l.str(op[:len(op)-1]) {
			return l.blank()
		}
	}
	return false
}

func identLen(s string) int {
	if len(s) == 0 || !isLetter(s[0]) {
		return 0
	}
	n := 1
	for n < len(s) && isIdentChar(s[n]) {
		n++
	}
	return n
}

func (l *lexer) identifier() bool { return l.take(identLen(l.rest())) }

// fieldName lexes ident(.ident)+.
func (l *lexer) fieldName() bool {
	s := l.rest()
	n := identLen(s)
	if n == 0 {
		return false
	}
	segments := 0
	for n+1 < len(s) && s[n] == '.' {
		m := identLen(s[n+1:])
		if m == 0 {
			break
		}
		n += 1 + m
		segments++
	}
	if segments == 0 {
		return false
	}
	return l.take(n)
}

func (l *lexer) span(ok func(byte) bool) bool {
	s := l.rest()
	n := 0
	for n < len(s) && ok(s[n]) {
		n++
	}
	return l.take(n)
}

func (l *lexer) fieldArgBare() bool {
	return l.span(func(c byte) bool {
		return c != '[' && c != ']' && c != '"' && c != '\'' && !isSpace(c)
	})
}

func (l *lexer) bareStr() bool {
	return l.span(func(c byte) bool {
		return c != '(' && c != ')' && c != '"' && c != '\'' && c != '=' && c != ',' && !isSpace(c)
	})
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (l *lexer) hexNum() bool {
	s := l.rest()
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !isHex(s[2]) {
		return false
	}
	n := 3
	for n < len(s) && isHex(s[n]) {
		n++
	}
	return l.take(n)
}

// num lexes [+-]?[0-9]+[.]?[0-9]*([eE][+-][0-9]+)?
func (l *lexer) num() bool {
	s := l.rest()
	n := 0
	if n < len(s) && (s[n] == '+' || s[n] == '-') {
		n++
	}
	start := n
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n == start {
		return false
	}
	if n < len(s) && s[n] == '.' {
		n++
	}
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n+2 < len(s) && (s[n] == 'e' || s[n] == 'E') && (s[n+1] == '+' || s[n+1] == '-') && isDigit(s[n+2]) {
		n += 3
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	return l.take(n)
}

// quoted lexes a '…' or "…" string. Like libsinsp, a delimiter preceded by
// a backslash never closes the string, even when that backslash is itself
// escaped.
func (l *lexer) quoted() (bool, error) {
	s := l.rest()
	if len(s) == 0 || (s[0] != '"' && s[0] != '\'') {
		return false, nil
	}
	delim := s[0]
	for i := 1; i < len(s); i++ {
		if s[i] == delim && s[i-1] != '\\' {
			l.advance(i + 1)
			v, err := unquote(s[:i+1])
			if err != nil {
				return false, err
			}
			l.last = v
			return true, nil
		}
	}
	return false, nil
}
