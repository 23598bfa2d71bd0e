package bpf

// vmlinux.h comes from the running kernel's BTF (make generate writes it);
// the generated Go and object files are committed, so building needs no
// clang.
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type event capture c/capture.bpf.c -- -I./c
