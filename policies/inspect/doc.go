// Package inspect implements the `peregrine rules` commands: validate rule
// files like `falco -V`, parse conditions, show expanded rules, list rules
// and print field catalogues. Each command is a function taking options,
// so the CLI stays a thin layer and tests call the functions directly.
package inspect
