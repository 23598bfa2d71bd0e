// Package rules reads Falco rule files: YAML items (rules, macros, lists,
// exceptions, required versions), their appends and overrides in file
// order, and then expands them into rules whose conditions are fully
// resolved ASTs checked against each source's field catalogue.
//
// Every problem is reported the way Falco reports it (the same LOAD_* codes,
// item types, item names and messages) with its location in the file, so
// `peregrine rules validate` reads like `falco -V` for people and scripts.
// Unlike Falco, loading goes on after an error to collect all of them.
package rules
