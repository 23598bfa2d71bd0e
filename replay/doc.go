// Package replay runs rules over recorded events and prints the alerts, as
// `peregrine replay` does: how users test rules offline, and how tests
// prove behaviour without a cluster.
package replay
