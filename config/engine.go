package config

import "github.com/peregrine-sec/peregrine/policies/engine"

// EngineOptions are the rule engine's options as the configuration sets
// them: the minimum priority of the rules loaded (priority), whether
// an event raises every rule it matches or only the first
// (rule_matching), and what append_output adds to rules' outputs.
func (c *Config) EngineOptions() engine.Options {
	opts := engine.DefaultOptions()
	opts.MinPriority, opts.MatchAll = c.Priority, c.RuleMatching == "all"
	for _, a := range c.AppendOutput {
		x := engine.ExtraOutput{Source: a.Match.Source, Tags: a.Match.Tags, Rule: a.Match.Rule, Output: a.ExtraOutput}
		for _, f := range a.ExtraFields {
			x.Fields = append(x.Fields, engine.ExtraField{Name: f.Name, Format: f.Format})
		}
		opts.Extra = append(opts.Extra, x)
	}
	return opts
}
