// Package engine compiles loaded rules into predicates over a source's
// events and evaluates them. Conditions are turned into closures once, at
// load: no AST is walked per event, constants are parsed and sets built
// ahead of time, and syscall rules are indexed by the event types their
// condition can match, so an event is only checked against rules that can
// fire on it. Evaluation does not allocate.
//
// A source plugs in through Source: it says how to read each field of its
// event type (an Accessor) and, for sources with event types, how to map
// an event to its type code.
package engine
