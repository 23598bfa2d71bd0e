// Package runtime owns the syscall source: the event model that the node
// agent fills from eBPF records (a syscall event with its thread, file
// descriptor and container), and the extraction of Falco's syscall fields
// from it for the rule engine.
//
// Capture itself (bpf/, the process table rebuilt from /proc, container
// metadata from cgroups) lands with the agent; today events are built by
// callers, which is how tests and benchmarks drive the syscall rules.
package runtime
