package runtime

import (
	"maps"

	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// Source is the syscall source as the rule engine sees it.
type Source struct {
	// Names resolves the domains of fd.*ip.name checks; without it
	// (replaying offline) those fields are not extracted.
	Names *Names
}

// Name implements engine.Source.
func (Source) Name() string { return fields.SourceSyscall }

// TypeCodes implements engine.Source.
func (Source) TypeCodes() map[string]int { return maps.Clone(typeCodes) }

// TypeCode implements engine.Source.
func (Source) TypeCode(e *Event) int { return int(e.Type) }

// Accessor implements engine.Source.
func (s Source) Accessor(f *fields.Field, arg string) (engine.Accessor[Event], bool) {
	if end, ok := nameFields[f.Name]; ok {
		if s.Names == nil || arg != "" {
			return engine.Accessor[Event]{}, false
		}
		return s.Names.nameAccessor(end), true
	}
	if mk, ok := argAccessors[f.Name]; ok {
		return mk(arg)
	}
	acc, ok := accessors[f.Name]
	if !ok {
		acc, ok = execAccessors[f.Name]
	}
	return acc, ok && arg == ""
}

// Extracted reports whether the source reads a field.
func Extracted(name string) bool {
	_, a := accessors[name]
	_, b := argAccessors[name]
	_, c := nameFields[name]
	_, d := execAccessors[name]
	return a || b || c || d
}
