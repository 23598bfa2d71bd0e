package rules

import (
	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/policies/fields"
)

var (
	ruleAppendable  = keySet("condition", "output", "desc", "tags", "exceptions")
	ruleReplaceable = keySet("condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
		"warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration")
	updateKeyOrder = []string{"condition", "exceptions", "output", "desc", "tags", "priority", "enabled",
		"warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration"}
)

func (l *Loader) readRule(s *source, res *Result, item *yaml.Node, parent Context) {
	name := s.str(item, "rule", s.at(parent, item, itemRule, ""))
	ctx := s.at(parent, item, itemRule, name)
	s.warnUnknownKeys(res, item, ruleKeys, ctx)
	appendFlag, _ := s.boolean(item, "append", ctx, true)
	if appendFlag {
		res.addWarning(WarnDeprecatedItem, msgWarnAppend, ctx)
	}
	app, repl := s.overrides(item, ruleAppendable, ruleReplaceable, ctx)
	validate(appendFlag && len(app)+len(repl) > 0, msgOverrideAppend, ctx)
	switch {
	case len(app)+len(repl) > 0:
		l.readRuleOverride(s, res, item, name, ctx, app, repl)
	case appendFlag:
		u := &ruleUpdate{ctx: ctx, source: s.optional(item, "source", ctx)}
		if get(item, "condition") != nil {
			c := s.str(item, "condition", ctx)
			u.cond = &c
		}
		if get(item, "exceptions") != nil {
			u.exceptions, u.hasExceptions = s.exceptions(res, item, ctx, true), true
		}
		l.appendRule(u, name)
	case get(item, "condition") == nil && get(item, "output") == nil && get(item, "desc") == nil && get(item, "priority") == nil:
		enabled, _ := s.boolean(item, "enabled", ctx, false)
		res.addWarning(WarnDeprecatedItem, msgWarnEnabled, ctx)
		prev := l.rules.get(name)
		validate(prev == nil, "Rule has 'enabled' key but no rule by that name already exists", ctx)
		prev.enabled = enabled
	default:
		l.defineRule(res, s.ruleInfo(res, item, name, ctx))
	}
}

func (s *source) ruleInfo(res *Result, item *yaml.Node, name string, ctx Context) *ruleInfo {
	v := &ruleInfo{name: name, ctx: ctx, enabled: true, warnEvttypes: true, source: fields.SourceSyscall}
	v.cond = s.str(item, "condition", ctx)
	v.condCtx = s.at(ctx, blockValue(item, "condition"), itemRuleCondition, "")
	v.output = trimOutput(s.str(item, "output", ctx))
	v.outputCtx = s.at(ctx, blockValue(item, "output"), itemRuleOutput, "")
	v.desc = s.str(item, "desc", ctx)
	v.priority = s.priority(item, ctx)
	if src, ok := s.scalar(item, "source", ctx, true); ok {
		v.source = src
	}
	if b, ok := s.boolean(item, "enabled", ctx, true); ok {
		v.enabled = b
	}
	if b, ok := s.boolean(item, "warn_evttypes", ctx, true); ok {
		v.warnEvttypes = b
	}
	v.skipUnknown, _ = s.boolean(item, "skip-if-unknown-filter", ctx, true)
	v.capture, _ = s.boolean(item, "capture", ctx, true)
	if get(item, "capture_duration") != nil {
		d, ok := s.uint(item, "capture_duration", ctx)
		check(!ok, "Can't decode YAML scalar value", s.at(ctx, get(item, "capture_duration"), itemValueFor, "capture_duration"))
		v.captureDuration = d
	}
	if act, ok := s.scalar(item, "action", ctx, true); ok {
		check(act != "deny" && act != "warn" && act != "allow", "Invalid action '"+act+"': expected deny, warn or allow",
			s.at(ctx, get(item, "action"), itemValueFor, "action"))
		v.action = act
	}
	tags, _ := s.seq(item, "tags", ctx, true)
	v.tags = unionSorted(nil, tags)
	v.exceptions = s.exceptions(res, item, ctx, false)
	return v
}

func (s *source) priority(item *yaml.Node, ctx Context) Priority {
	p, ok := ParsePriority(s.str(item, "priority", ctx))
	check(!ok, "Invalid priority", s.at(ctx, get(item, "priority"), itemRulePriority, ""))
	return p
}

func (l *Loader) readRuleOverride(s *source, res *Result, item *yaml.Node, name string, ctx Context, app, repl map[string]bool) {
	expected := map[string]bool{}
	for _, k := range updateKeyOrder {
		if get(item, k) != nil && (ruleAppendable[k] || ruleReplaceable[k]) {
			expected[k] = true
		}
	}
	for _, ops := range []struct {
		keys    map[string]bool
		kind    string
		replace bool
	}{{app, "append", false}, {repl, "replace", true}} {
		if len(ops.keys) == 0 {
			continue
		}
		u := &ruleUpdate{ctx: ctx, source: s.optional(item, "source", ctx)}
		for _, k := range updateKeyOrder {
			if !ops.keys[k] {
				continue
			}
			validate(!expected[k], "An "+ops.kind+" override for '"+k+"' was specified but '"+k+"' is not defined", ctx)
			delete(expected, k)
			s.updateKey(res, u, item, k, ctx, ops.replace)
		}
		if ops.replace {
			l.replaceRule(u, name)
		} else {
			l.appendRule(u, name)
		}
	}
	for _, k := range updateKeyOrder {
		if expected[k] {
			validate(true, "Unexpected key '"+k+"': no corresponding entry under 'override' is defined.",
				s.at(ctx, get(item, k), itemOverrides, k))
		}
	}
}

// optional returns a non-empty scalar value of key, or nil; appends may
// carry an empty source, which Falco ignores.
func (s *source) optional(item *yaml.Node, key string, ctx Context) *string {
	if v := get(item, key); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" && !isNull(v) {
		return &v.Value
	}
	return nil
}

// updateKey decodes key k of an override; a replaced exception must be
// complete, an appended one may carry values only.
func (s *source) updateKey(res *Result, u *ruleUpdate, item *yaml.Node, k string, ctx Context, replace bool) {
	str := func() *string { v := s.str(item, k, ctx); return &v }
	boolean := func() *bool { v, _ := s.boolean(item, k, ctx, false); return &v }
	switch k {
	case "condition":
		u.cond = str()
	case "output":
		o := trimOutput(*str())
		u.output = &o
	case "desc":
		u.desc = str()
	case "tags":
		tags, _ := s.seq(item, "tags", ctx, false)
		u.tags, u.hasTags = unionSorted(nil, tags), true
	case "exceptions":
		u.exceptions, u.hasExceptions = s.exceptions(res, item, ctx, !replace), true
	case "priority":
		p := s.priority(item, ctx)
		u.priority = &p
	case "enabled":
		u.enabled = boolean()
	case "warn_evttypes":
		u.warnEvttypes = boolean()
	case "skip-if-unknown-filter":
		u.skipUnknown = boolean()
	case "capture":
		u.capture = boolean()
	case "capture_duration":
		d, ok := s.uint(item, k, ctx)
		check(!ok, "Can't decode YAML scalar value", s.at(ctx, get(item, k), itemValueFor, k))
		u.captureDuration = &d
	}
}

func (l *Loader) readEngineVersion(s *source, item *yaml.Node, parent Context) {
	ctx := s.at(parent, item, itemEngineVersion, "")
	raw := s.str(item, "required_engine_version", ctx)
	v, ok := parseEngineVersion(raw)
	check(!ok, "Unable to parse engine version '"+raw+"' as a semver string. Expected \"x.y.z\" semver format.", ctx)
	validate(!EngineVersion.compatibleWith(v), "Rules require engine version "+v.String()+", but engine version is "+EngineVersion.String(), ctx)
	if l.requiredEngine.less(v) {
		l.requiredEngine = v
	}
}

func (l *Loader) readPluginVersions(s *source, item *yaml.Node, parent Context) {
	reqs := get(item, "required_plugin_versions")
	ctx := s.at(parent, reqs, itemPluginVersions, "")
	check(reqs.Kind != yaml.SequenceNode, "Value of required_plugin_versions must be a sequence", ctx)
	for _, p := range reqs.Content {
		tmp := s.at(ctx, p, itemPluginEntry, "")
		check(p.Kind != yaml.MappingNode, "Plugin version must be a mapping", tmp)
		name := s.str(p, "name", tmp)
		pctx := s.at(ctx, p, itemPluginEntry, name)
		alts := []pluginReq{{name, s.str(p, "version", pctx)}}
		if a := get(p, "alternatives"); a != nil {
			check(a.Kind != yaml.SequenceNode, "Value of plugin version alternatives must be a sequence", pctx)
			for _, r := range a.Content {
				actx := s.at(pctx, r, itemPluginAlt, "")
				check(r.Kind != yaml.MappingNode, "Plugin version alternative must be a mapping", actx)
				an := s.str(r, "name", actx)
				alts = append(alts, pluginReq{an, s.str(r, "version", s.at(pctx, r, itemPluginAlt, an))})
			}
		}
		checkPluginRequirement(alts, pctx)
	}
}
