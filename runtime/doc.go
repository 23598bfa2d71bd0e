// Package runtime owns the syscall source: the event model that the node
// agent fills from eBPF records (a syscall event with its thread, file
// descriptor and container), the process table rebuilt from /proc and
// kept by exec, fork and exit records, each process's descriptors, the
// containers found from cgroups, the extraction of Falco's syscall fields
// for the rule engine, and capture files for offline replay.
package runtime
