// Package ingress owns what the endpoints that take JSON posts from the
// apiserver (audit batches, admission reviews) do alike before their own
// work: the content type, the body limit, error replies as {"error": ...}
// with the status that says whose fault it is, and a count of requests by
// status code.
package ingress
