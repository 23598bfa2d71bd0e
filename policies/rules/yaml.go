package rules

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// loadError aborts the reading or compiling of one item; it is recovered
// at item level and recorded, so loading goes on with the next item.
type loadError struct {
	code Code
	msg  string
	ctx  Context
}

func throw(code Code, msg string, ctx Context) { panic(loadError{code, msg, ctx}) }

func check(cond bool, msg string, ctx Context) {
	if cond {
		throw(ErrYAMLValidate, msg, ctx)
	}
}

func validate(cond bool, msg string, ctx Context) {
	if cond {
		throw(ErrValidate, msg, ctx)
	}
}

// catch runs fn and records a loadError it raises; it reports success.
func catch(res *Result, fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, broken := r.(errBrokenMacro); broken {
				ok = false
				return
			}
			le, isLoad := r.(loadError)
			if !isLoad {
				panic(r)
			}
			res.addError(le.code, le.msg, le.ctx)
			ok = false
		}
	}()
	fn()
	return true
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// scalar decodes a required (or, with optional, an optional) scalar the way
// Falco's decode_val does, with its messages.
func (s *source) scalar(item *yaml.Node, key string, ctx Context, optional bool) (string, bool) {
	v := get(item, key)
	if v == nil {
		check(!optional, "Item has no mapping for key '"+key+"'", ctx)
		return "", false
	}
	check(isNull(v), "Mapping for key '"+key+"' is empty", ctx)
	vctx := s.at(ctx, v, itemValueFor, key)
	check(v.Kind != yaml.ScalarNode, "Value is not a scalar value", vctx)
	check(v.Value == "", "Value must be non-empty", vctx)
	return v.Value, true
}

func (s *source) str(item *yaml.Node, key string, ctx Context) string {
	v, _ := s.scalar(item, key, ctx, false)
	return v
}

func (s *source) boolean(item *yaml.Node, key string, ctx Context, optional bool) (val, present bool) {
	v, ok := s.scalar(item, key, ctx, optional)
	if !ok {
		return false, false
	}
	b, valid := parseYAMLBool(v)
	check(!valid, "Can't decode YAML scalar value", s.at(ctx, get(item, key), itemValueFor, key))
	return b, true
}

// parseYAMLBool accepts the spellings yaml-cpp accepts.
func parseYAMLBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}

func (s *source) uint(item *yaml.Node, key string, ctx Context) (uint64, bool) {
	v := s.str(item, key, ctx)
	n, err := strconv.ParseUint(v, 10, 32)
	return n, err == nil
}

// seq decodes a sequence of scalars (items, tags).
func (s *source) seq(item *yaml.Node, key string, ctx Context, optional bool) ([]string, bool) {
	v := get(item, key)
	if v == nil {
		check(!optional, "Item has no mapping for key '"+key+"'", ctx)
		return nil, false
	}
	vctx := s.at(ctx, v, itemValueFor, key)
	check(v.Kind != yaml.SequenceNode, "Value is not a sequence", vctx)
	out := make([]string, 0, len(v.Content))
	for _, e := range v.Content {
		check(e.Kind != yaml.ScalarNode, "sequence value is not scalar", s.at(vctx, e, itemListItem, ""))
		out = append(out, e.Value)
	}
	return out, true
}

// warnUnknownKeys warns about keys an item kind does not know.
func (s *source) warnUnknownKeys(res *Result, item *yaml.Node, known map[string]bool, ctx Context) {
	for i := 0; i+1 < len(item.Content); i += 2 {
		k := item.Content[i]
		if !known[k.Value] {
			res.addWarning(WarnUnknownKey, "Unknown key '"+k.Value+"'. The key will be ignored.", s.at(ctx, k, itemValueFor, k.Value))
		}
	}
}

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
