package rules

import (
	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// maxConditionDepth is the parser depth Falco allows for rule conditions.
const maxConditionDepth = 1000

// Loader accumulates rule files in order. Like Falco, each Load reads one
// more file into the collection and recompiles everything, so an append in
// a later file applies to an earlier file's items and its problems are
// reported against the file that caused them.
type Loader struct {
	catalogs       map[string]*fields.Catalog
	lists          ordered[listInfo]
	macros         ordered[macroInfo]
	rules          ordered[ruleInfo]
	cur            int
	requiredEngine Version
	set            *Set
}

// NewLoader returns a loader that checks rules against catalogs, keyed by
// source name. Rules of other sources are skipped with a warning.
func NewLoader(catalogs ...*fields.Catalog) *Loader {
	l := &Loader{catalogs: map[string]*fields.Catalog{}}
	for _, c := range catalogs {
		l.catalogs[c.Source] = c
	}
	return l
}

// Set is the compiled outcome of everything loaded so far.
type Set struct {
	Rules []*Rule
	// RequiredEngineVersion is the highest required_engine_version seen.
	RequiredEngineVersion Version
}

// Rule is a loaded rule with its fully expanded condition.
type Rule struct {
	Name        string
	Desc        string
	Source      string
	Priority    Priority
	Enabled     bool
	Tags        []string
	Output      string
	Action      string
	Condition   condition.Expr
	Capture     bool
	CaptureSecs uint64
	// Evttypes is the set of syscall event types the rule can match; nil
	// with AllEvttypes set means it must see every event.
	Evttypes    []string
	AllEvttypes bool
}

// Load reads one file and recompiles the collection, returning the file's
// result. The compiled rules are available from Set.
func (l *Loader) Load(name, content string) *Result {
	res := &Result{Name: name, Successful: true}
	l.read(newSource(name, content), res)
	l.set = l.compile(res)
	return res
}

// Set returns the rules compiled by the last Load.
func (l *Loader) Set() *Set { return l.set }

// Catalog returns the catalogue of a source, or nil.
func (l *Loader) Catalog(source string) *fields.Catalog { return l.catalogs[source] }

// FileReadError is the result for a rules file that could not be read.
func FileReadError(name string, err error) *Result {
	res := &Result{Name: name}
	ctx := Context{Locations: []Location{{ItemType: itemContent, Position: Position{Name: name}}}}
	res.addError(ErrFileRead, "Could not read file: "+err.Error(), ctx)
	return res
}
