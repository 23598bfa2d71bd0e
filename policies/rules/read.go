package rules

import (
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	identRe   = regexp.MustCompile(`^[a-zA-Z]+[a-zA-Z0-9_]*$`)
	bareStrRe = regexp.MustCompile(`^[^()"'\s=,]+$`)

	listKeys  = keySet("list", "items", "append", "override")
	macroKeys = keySet("macro", "condition", "append", "override")
	ruleKeys  = keySet("rule", "condition", "output", "desc", "priority", "source", "enabled", "tags",
		"exceptions", "override", "append", "warn_evttypes", "skip-if-unknown-filter", "capture",
		"capture_duration", "action")
)

// read reads the documents of one file into the loader's collection.
func (l *Loader) read(s *source, res *Result) {
	docs, err := parseYAML(s.content)
	if err != nil {
		res.addError(ErrYAMLParse, err.msg, s.root().withPos(s, err.line, err.col))
		return
	}
	for _, doc := range docs {
		if doc.Kind == 0 || isNull(doc) {
			continue
		}
		ctx := s.root()
		if !catch(res, func() {
			check(doc.Kind != yaml.MappingNode && doc.Kind != yaml.SequenceNode, "Rules content is not yaml", ctx)
			check(doc.Kind != yaml.SequenceNode, "Rules content is not yaml array of objects", ctx)
		}) {
			return
		}
		for _, item := range doc.Content {
			if isNull(item) {
				continue
			}
			catch(res, func() { l.readItem(s, res, item, ctx) })
		}
	}
}

func (c Context) withPos(s *source, line, col int) Context {
	c.Locations[len(c.Locations)-1].Position = s.pos(line, col)
	return c
}

func (l *Loader) readItem(s *source, res *Result, item *yaml.Node, parent Context) {
	check(item.Kind != yaml.MappingNode, "Unexpected element type. Each element should be a yaml associative array.",
		s.at(parent, item, itemContentItem, ""))
	switch {
	case get(item, "required_engine_version") != nil:
		l.readEngineVersion(s, item, parent)
	case get(item, "required_plugin_versions") != nil:
		l.readPluginVersions(s, item, parent)
	case get(item, "list") != nil:
		l.readList(s, res, item, parent)
	case get(item, "macro") != nil:
		l.readMacro(s, res, item, parent)
	case get(item, "rule") != nil:
		l.readRule(s, res, item, parent)
	default:
		res.addWarning(WarnUnknownItem, "Unknown top level item", s.at(parent, item, itemContentItem, ""))
	}
}

// overrides decodes an item's override map into the keys to append and
// the keys to replace.
func (s *source) overrides(item *yaml.Node, canAppend, canReplace map[string]bool, ctx Context) (app, repl map[string]bool) {
	app, repl = map[string]bool{}, map[string]bool{}
	v := get(item, "override")
	if v == nil {
		return
	}
	octx := s.at(ctx, item, itemOverrides, "")
	check(v.Kind != yaml.MappingNode, "Value is not a map", octx)
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, op := v.Content[i].Value, v.Content[i+1].Value
		kctx := s.at(octx, v.Content[i], itemOverrides, key)
		switch op {
		case "append":
			check(!canAppend[key], "Key '"+key+"' cannot be appended to, use 'replace' instead", kctx)
			app[key] = true
		case "replace":
			check(!canReplace[key], "Key '"+key+"' cannot be replaced", kctx)
			repl[key] = true
		default:
			allowed := ""
			if canAppend[key] {
				allowed += "append "
			}
			if canReplace[key] {
				allowed += "replace "
			}
			check(true, "Invalid override operation for key '"+key+"': '"+op+"'. Allowed values are: "+allowed,
				s.at(octx, v.Content[i+1], itemValueFor, key))
		}
	}
	return app, repl
}

func (l *Loader) readList(s *source, res *Result, item *yaml.Node, parent Context) {
	name := s.str(item, "list", s.at(parent, item, itemList, ""))
	ctx := s.at(parent, item, itemList, name)
	if !bareStrRe.MatchString(name) {
		res.addWarning(WarnInvalidListName, "List has an invalid name. List names should match a regular expression: "+rgxBareStr, ctx)
	}
	s.warnUnknownKeys(res, item, listKeys, ctx)
	items, _ := s.seq(item, "items", ctx, false)
	v := &listInfo{name: name, items: items, ctx: ctx}
	appendFlag, _ := s.boolean(item, "append", ctx, true)
	if appendFlag {
		res.addWarning(WarnDeprecatedItem, msgWarnAppend, ctx)
	}
	one := keySet("items")
	app, repl := s.overrides(item, one, one, ctx)
	validate(appendFlag && len(app)+len(repl) > 0, msgOverrideAppend, ctx)
	if appendFlag || app["items"] {
		l.appendList(v)
	} else {
		l.defineList(v)
	}
}

func (l *Loader) readMacro(s *source, res *Result, item *yaml.Node, parent Context) {
	name := s.str(item, "macro", s.at(parent, item, itemMacro, ""))
	ctx := s.at(parent, item, itemMacro, name)
	if !identRe.MatchString(name) {
		res.addWarning(WarnInvalidMacroName, "Macro has an invalid name. Macro names should match a regular expression: "+rgxIdentifier, ctx)
	}
	s.warnUnknownKeys(res, item, macroKeys, ctx)
	v := &macroInfo{name: name, ctx: ctx}
	v.cond = s.str(item, "condition", ctx)
	v.condCtx = s.at(ctx, blockValue(item, "condition"), itemMacroCondition, "")
	appendFlag, _ := s.boolean(item, "append", ctx, true)
	if appendFlag {
		res.addWarning(WarnDeprecatedItem, msgWarnAppend, ctx)
	}
	one := keySet("condition")
	app, repl := s.overrides(item, one, one, ctx)
	validate(appendFlag && len(app)+len(repl) > 0, msgOverrideAppend, ctx)
	if appendFlag || app["condition"] {
		l.appendMacro(v)
	} else {
		l.defineMacro(v)
	}
}

// blockValue returns the value node of key, moved to where a block scalar's
// text starts (its node marks the indicator), so condition positions land
// on the condition's own characters.
func blockValue(item *yaml.Node, key string) *yaml.Node {
	v := get(item, key)
	if v == nil || (v.Style != yaml.LiteralStyle && v.Style != yaml.FoldedStyle) {
		return v
	}
	c := *v
	c.Line++
	k := item.Content[0]
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i+1] == v {
			k = item.Content[i]
		}
	}
	c.Column = k.Column + 2
	return &c
}

func trimOutput(s string) string { return strings.TrimSpace(s) }
