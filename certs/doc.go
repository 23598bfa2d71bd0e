// Package certs owns the service's TLS material when it manages its own:
// a CA (kept by the caller, in a Kubernetes Secret on a cluster), serving
// certificates it signs and renews before they expire (Rotating), client
// certificates it signs for the apiserver's audit webhook, and the CA pool
// that verifies them. Nothing here talks to the cluster.
package certs
