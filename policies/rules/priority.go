package rules

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Priority is a rule's severity; lower is more severe, and the numeric
// value is the syslog level.
type Priority int

// Priorities, in Falco's order.
const (
	Emergency Priority = iota
	Alert
	Critical
	Error
	Warning
	Notice
	Informational
	Debug
)

var priorityNames = []string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// ParsePriority parses a priority name case-insensitively; "info" is an
// alias of Informational.
func ParsePriority(s string) (Priority, bool) {
	if strings.EqualFold(s, "info") {
		return Informational, true
	}
	for i, n := range priorityNames {
		if strings.EqualFold(s, n) {
			return Priority(i), true
		}
	}
	return 0, false
}

// MarshalText writes the capitalised name.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a priority name.
func (p *Priority) UnmarshalText(b []byte) error {
	v, ok := ParsePriority(string(b))
	if !ok {
		return fmt.Errorf("invalid priority %q", b)
	}
	*p = v
	return nil
}

// UnmarshalYAML parses a priority name in a YAML document, saying where a
// bad one is.
func (p *Priority) UnmarshalYAML(n *yaml.Node) error {
	v, ok := ParsePriority(n.Value)
	if !ok {
		return fmt.Errorf("line %d: invalid priority %q (want emergency, alert, critical, error, warning, notice, informational or debug)", n.Line, n.Value)
	}
	*p = v
	return nil
}
