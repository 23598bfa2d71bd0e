// Package certs owns Peregrine's TLS material. From files: listeners'
// serving certificates (reloaded when the files change), the CA pools
// that verify clients, clients' CAs and certificates (ClientTLS). Made
// here: a CA (kept by the caller, in a Kubernetes Secret on a cluster),
// serving certificates it signs and renews before they expire (Rotating),
// a throwaway CA and certificate for a webhook without files (Generate),
// and client certificates it signs for the apiserver's audit webhook.
// Nothing here talks to the cluster.
package certs
