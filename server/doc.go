// Package server runs `peregrine serve`: the audit webhook endpoint (TLS,
// apiserver authentication, body limits, a bounded queue that pushes back
// with 429 instead of dropping), the workers that evaluate queued events,
// the alert outputs, and the health, readiness and metrics endpoints, with
// a graceful shutdown that drains the queue.
package server
