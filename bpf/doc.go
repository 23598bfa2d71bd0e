// Package bpf owns the kernel side of the syscall source: the CO-RE eBPF
// program (c/capture.bpf.c) compiled by bpf2go into committed Go bindings,
// and the loader that attaches only the tracepoints the loaded rules need
// and turns ring-buffer records into Records for the runtime package. It
// uses tracepoints and tp_btf only: kprobes, fentry and BPF-LSM are absent
// or refused on the kernels Peregrine targets.
package bpf
