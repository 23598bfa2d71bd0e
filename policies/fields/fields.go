package fields

import (
	"sort"
	"strings"
)

// Type is a field's value type, named after libsinsp's PT_* types.
type Type int

// Field value types.
const (
	String Type = iota
	Int64
	Int32
	Int16
	Uint64
	Uint32
	Bool
	RelTime
	AbsTime
	Port
	IPAddr
	IPNet
	Double
	Bytes
	Dyn
)

var typeNames = map[Type]string{
	String: "CHARBUF", Int64: "INT64", Int32: "INT32", Int16: "INT16", Uint64: "UINT64",
	Uint32: "UINT32", Bool: "BOOL", RelTime: "RELTIME", AbsTime: "ABSTIME", Port: "PORT",
	IPAddr: "IPADDR", IPNet: "IPNET", Double: "DOUBLE", Bytes: "BYTEBUF", Dyn: "DYNAMIC",
}

func (t Type) String() string { return typeNames[t] }

// Numeric reports whether values of t compare as numbers.
func (t Type) Numeric() bool {
	switch t {
	case Int64, Int32, Int16, Uint64, Uint32, Bool, RelTime, AbsTime, Port, Double:
		return true
	}
	return false
}

// Flags are libsinsp's EPF_* field flags.
type Flags uint32

// Field flags.
const (
	ArgRequired Flags = 1 << iota
	ArgAllowed
	ArgIndex // the argument is a numeric index
	ArgKey   // the argument is a key
	NoRHS
	NoTransformer
	FilterOnly
	PrintOnly
	TableOnly
	Deprecated
	IsList
)

// Field describes one field of a source.
type Field struct {
	Name  string
	Type  Type
	Flags Flags
	Desc  string
}

// Has reports whether all of fl are set.
func (f *Field) Has(fl Flags) bool { return f.Flags&fl == fl }

// Catalog is the set of fields of one event source.
type Catalog struct {
	Source string
	byName map[string]*Field
	order  []*Field
	// dotArgs are fields whose argument may follow a dot (evt.arg.fd).
	dotArgs []string
}

// newCatalog builds a catalogue; dotArgs names the fields that accept
// "name.arg" as well as "name[arg]".
func newCatalog(source string, dotArgs []string, sets ...[]Field) *Catalog {
	c := &Catalog{Source: source, byName: map[string]*Field{}, dotArgs: dotArgs}
	for _, set := range sets {
		for i := range set {
			f := &set[i]
			if _, dup := c.byName[f.Name]; dup {
				continue
			}
			c.byName[f.Name] = f
			c.order = append(c.order, f)
		}
	}
	return c
}

// Fields returns the fields in catalogue order.
func (c *Catalog) Fields() []*Field { return c.order }

// Lookup resolves a field name as written in a condition: either an exact
// name or, for fields such as evt.arg, "name.arg". It returns the field and
// the argument carried in the name, if any.
func (c *Catalog) Lookup(name string) (f *Field, dotArg string, ok bool) {
	if f, ok := c.byName[name]; ok {
		return f, "", true
	}
	for _, prefix := range c.dotArgs {
		if rest, found := strings.CutPrefix(name, prefix+"."); found && rest != "" {
			return c.byName[prefix], rest, true
		}
	}
	return nil, "", false
}

// Names returns the sorted field names.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.order))
	for _, f := range c.order {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}
