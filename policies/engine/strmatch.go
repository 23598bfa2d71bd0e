package engine

import (
	"fmt"
	"strings"
)

// strMatcher decides a string check against a constant.
type strMatcher func(string) bool

// strSet is a set of strings: a slice for a few, a map for many.
type strSet struct {
	small []string
	big   map[string]struct{}
}

func newStrSet(vals []string) strSet {
	if len(vals) <= 8 {
		return strSet{small: vals}
	}
	m := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		m[v] = struct{}{}
	}
	return strSet{big: m}
}

func (s strSet) has(v string) bool {
	if s.big != nil {
		_, ok := s.big[v]
		return ok
	}
	for _, x := range s.small {
		if x == v {
			return true
		}
	}
	return false
}

// listOp compiles in, intersects and pmatch against a list of constants.
func listOp(op string, vals []string) (strMatcher, error) {
	switch op {
	case "in", "intersects":
		set := newStrSet(vals)
		return set.has, nil
	case "pmatch":
		return func(s string) bool { return pathMatch(vals, s) }, nil
	}
	return nil, fmt.Errorf("'%s' needs a single value, not a list", op)
}

// modifierOp compiles "op oneof|anyof|allof (values)": exactly one, at
// least one, or every value must satisfy op.
func modifierOp(op, mod string, vals []string) (strMatcher, error) {
	ms := make([]strMatcher, len(vals))
	for i, v := range vals {
		m, err := stringOp(op, v)
		if err != nil {
			return nil, err
		}
		ms[i] = m
	}
	return func(s string) bool {
		n := 0
		for _, m := range ms {
			if m(s) {
				n++
				if mod == "anyof" {
					return true
				}
			} else if mod == "allof" {
				return false
			}
		}
		switch mod {
		case "oneof":
			return n == 1
		case "allof":
			return len(ms) > 0
		}
		return false
	}, nil
}

// pathMatch reports whether s equals one of prefixes or lies below it,
// component-wise: /var/run matches /var/run/docker, not /var/runner.
func pathMatch(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if s == p {
			return true
		}
		q := strings.TrimSuffix(p, "/")
		if strings.HasPrefix(s, q) && len(s) > len(q) && s[len(q)] == '/' {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// containsFold is strcasestr: ASCII case-insensitive substring search.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && lowerASCII(s[i+j]) == lowerASCII(sub[j]) {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}
