package engine

import (
	"net/netip"

	"github.com/peregrine-sec/peregrine/policies/fields"
)

// Kind says which function of an Accessor reads the field.
type Kind int

// Accessor kinds.
const (
	KindString Kind = iota // Str
	KindInt                // Int: integers, booleans (0/1), ports, times
	KindIP                 // IP
	KindBytes              // Bytes
	KindList               // N and At: a list field (ka.user.groups)
	KindAny                // N and At: several values, any of which may match (proc.aname)
)

var kindNames = [...]string{KindString: "string", KindInt: "int", KindIP: "ip", KindBytes: "bytes", KindList: "list", KindAny: "any"}

func (k Kind) String() string { return kindNames[k] }

// Accessor reads one field (with its argument) from events of type E. The
// functions report false when the event has no value for the field.
type Accessor[E any] struct {
	Kind  Kind
	Str   func(*E) (string, bool)
	Int   func(*E) (int64, bool)
	IP    func(*E) (netip.Addr, bool)
	Bytes func(*E) ([]byte, bool)
	// N and At read multi-valued fields by index, so reading them never
	// allocates; N == 0 means the field is absent.
	N  func(*E) int
	At func(*E, int) string
	// Either, when set, makes the field stand for two values read by its
	// accessors (filter-only fd.ip, fd.port, fd.net); the other functions
	// then read the first, for outputs.
	Either []Accessor[E]
	// Has, when set, tells whether the event has a value without reading
	// it: "exists" then costs no formatting.
	Has func(*E) bool
	// Compare, when set, compiles the field's checks against constant
	// values itself: for fields whose values are not compared as text
	// (fd.sip.name = a domain holds when the domain resolves to fd.sip).
	Compare func(op string, vals []string) (func(*E) bool, error)
}

// Source is an event source as the engine sees it.
type Source[E any] interface {
	// Name is the source name rules use (syscall, k8s_audit).
	Name() string
	// Accessor returns how to read field f with argument arg, or false
	// when the source does not extract that field yet.
	Accessor(f *fields.Field, arg string) (Accessor[E], bool)
	// TypeCodes maps event type names to small codes; nil when the
	// source's events have no types (plugin sources).
	TypeCodes() map[string]int
	// TypeCode returns the type code of an event.
	TypeCode(*E) int
}

// absent is the accessor of a field a source does not extract: it never
// has a value, so checks on it are false, as in Falco for missing fields.
func absent[E any]() Accessor[E] {
	return Accessor[E]{Kind: KindString, Str: func(*E) (string, bool) { return "", false }}
}

// Adapt reads the fields of F from events E that carry an F, for sources
// whose events embed another source's (admission requests seen as audit
// events, for instance).
func Adapt[E, F any](a Accessor[F], inner func(*E) *F) Accessor[E] {
	out := Accessor[E]{Kind: a.Kind}
	if a.Str != nil {
		out.Str = func(e *E) (string, bool) { return a.Str(inner(e)) }
	}
	if a.Int != nil {
		out.Int = func(e *E) (int64, bool) { return a.Int(inner(e)) }
	}
	if a.IP != nil {
		out.IP = func(e *E) (netip.Addr, bool) { return a.IP(inner(e)) }
	}
	if a.Bytes != nil {
		out.Bytes = func(e *E) ([]byte, bool) { return a.Bytes(inner(e)) }
	}
	if a.N != nil {
		out.N = func(e *E) int { return a.N(inner(e)) }
		out.At = func(e *E, i int) string { return a.At(inner(e), i) }
	}
	return out
}
