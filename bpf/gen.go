package bpf

// The object is built from c/vmlinux.h, pinned in the repository (make
// vmlinux refreshes it from a kernel's BTF), never from the running
// kernel: CO-RE relocates the field offsets against whatever kernel loads
// it, so one header serves every kernel with BTF, and the committed object
// is the same on every machine. The compiler comes from $BPF2GO_CC, which
// make generate sets after checking its major version; the generated Go
// and object files are committed, so building needs no clang.
//go:generate go tool bpf2go -cflags "-O2 -g -Wall -Werror" -target amd64 -type event capture c/capture.bpf.c -- -I./c
