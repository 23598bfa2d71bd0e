package format

import (
	"fmt"
	"strings"
)

// Token is a piece of a format: literal text, or a field reference.
type Token struct {
	Text  string // literal text, when Field is empty
	Field string // the field reference as written, e.g. proc.aname[2] or tolower(proc.name)
	Name  string // the field name, without argument or transformer
	Arg   string
	Width int // %Nfield pads the value to N characters
}

// Known reports whether a field name is valid for the format's source.
type Known func(name string) bool

// Parse splits a format into tokens. After '%' it takes the longest run
// that names a known field (with an optional [arg]), as libsinsp does, so
// text may follow a field without a separator. An unknown name is the
// error "invalid formatting token NAME".
func Parse(format string, known Known) ([]Token, error) {
	var toks []Token
	var lit strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 >= len(format) {
			lit.WriteByte(format[i])
			continue
		}
		tok, n, err := parseField(format[i+1:], known)
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			toks = append(toks, Token{Text: lit.String()})
			lit.Reset()
		}
		toks = append(toks, tok)
		i += n
	}
	if lit.Len() > 0 {
		toks = append(toks, Token{Text: lit.String()})
	}
	return toks, nil
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

// parseField parses what follows a '%', returning the token and the bytes
// consumed.
func parseField(s string, known Known) (Token, int, error) {
	var tok Token
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		tok.Width = tok.Width*10 + int(s[n]-'0')
		n++
	}
	start := n
	for n < len(s) && isNameChar(s[n]) {
		n++
	}
	if n < len(s) && s[n] == '(' { // a transformer: tolower(proc.name)
		if end := strings.IndexByte(s[n:], ')'); end > 0 {
			inner, _, err := parseField(s[n+1:n+end], known)
			if err != nil {
				return tok, 0, err
			}
			tok.Field, tok.Name, tok.Arg = s[start:n+end+1], inner.Name, inner.Arg
			return tok, n + end + 1, nil
		}
	}
	name := strings.TrimRight(s[start:n], ".")
	for name != "" && !known(name) {
		i := strings.LastIndexByte(name, '.')
		if i < 0 {
			name = ""
			break
		}
		name = name[:i]
	}
	if name == "" || !strings.Contains(name, ".") {
		return tok, 0, fmt.Errorf("invalid formatting token %s", s[start:n])
	}
	n = start + len(name)
	tok.Name = name
	if n < len(s) && s[n] == '[' {
		if end := strings.IndexByte(s[n:], ']'); end > 0 {
			tok.Arg = s[n+1 : n+end]
			n += end + 1
		}
	}
	tok.Field = s[start:n]
	return tok, n, nil
}
