// Package image builds Peregrine's OCI image from the static binary,
// without a daemon or a registry: one layer (the binary, CA certificates,
// a passwd naming the non-root user), written as a tarball that
// `ctr images import` and `docker load` both read. Builds are
// reproducible: every time stamp is the one given.
package image
