// Package agent runs `peregrine agent`: the node agent that captures
// syscalls with eBPF, keeps the process table, evaluates the syscall rules
// and sends alerts to the configured outputs. It needs root (or
// CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) and a kernel with BTF.
package agent
