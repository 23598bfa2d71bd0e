// Package policies holds Peregrine's rule language (in its subpackages)
// and the project's own default rules, embedded in the binary.
package policies

import _ "embed"

// DefaultRulesName is the name the embedded default rules load under.
const DefaultRulesName = "peregrine_rules.yaml"

// DefaultRules is Peregrine's default rule file.
//
//go:embed peregrine_rules.yaml
var DefaultRules string
