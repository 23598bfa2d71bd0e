package config

import "github.com/peregrine-sec/peregrine/policies/engine"

// EngineOptions are the rule engine's options as the configuration sets
// them: the minimum priority of the rules loaded (priority), and whether
// an event raises every rule it matches or only the first
// (rule_matching).
func (c *Config) EngineOptions() engine.Options {
	opts := engine.DefaultOptions()
	opts.MinPriority, opts.MatchAll = c.Priority, c.RuleMatching == "all"
	return opts
}
