// Package bpf owns the kernel side of the syscall source: the CO-RE eBPF
// program (c/capture.bpf.c) compiled by bpf2go into committed Go bindings,
// and the loader that attaches only the tracepoints the loaded rules need
// and turns ring-buffer records into Records for the runtime package.
//
// It uses tracepoints and tp_btf only: kprobes, fentry and BPF-LSM are
// absent or refused on the kernels Peregrine targets. Syscalls are taken
// at their exit tracepoint alone, their arguments read from the registers
// the task entered the kernel with; an enter program is attached only to
// tell execveat from execve, and only when a rule needs that. Records are
// sized by what they carry (an open is a header and a path), wake the
// reader in batches, and what the kernel could not send is counted.
package bpf
