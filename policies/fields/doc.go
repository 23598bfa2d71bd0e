// Package fields owns the field catalogues of Peregrine's event sources:
// every field a condition or an output may name, with its type, its
// argument rules and its flags, for the syscall source (libsinsp's fields
// plus the container plugin's) and the k8s_audit source (the k8saudit and
// json plugins' fields). The loader validates rules against these tables, so
// a field unknown to Falco is unknown here too.
//
// Whether a field is extracted is not this package's business: each source
// says which of its fields it can read (see Catalog.Extracted).
package fields
