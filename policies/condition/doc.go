// Package condition owns the syntax of Falco's filter language: the lexer,
// the recursive-descent parser, the AST and its canonical printed form.
//
// The grammar and the error texts follow libsinsp's parser exactly, so a
// condition that Falco accepts parses here to the same tree, and one that
// Falco rejects fails with the same message at the same position. Nothing
// here knows about fields, macros or events: names are resolved later by
// the loader and the compiler.
package condition
