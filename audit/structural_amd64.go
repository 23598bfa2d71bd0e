package audit

import "golang.org/x/sys/cpu"

// vector is read once: the CPU does not change under a running process.
var vector = cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ && cpu.X86.HasPOPCNT

// passAVX2 is passGo over blocks whole blocks from p (structural_amd64.s).
//
//go:noescape
func passAVX2(p *byte, blocks int, s *scanner) int

// pass moves s over the whole 64-byte blocks that b starts with in which
// the depth cannot reach zero, and returns how many it passed.
func pass(b []byte, s *scanner) int {
	if !vector || len(b) < 64 {
		return passGo(b, s)
	}
	return passAVX2(&b[0], len(b)/64, s)
}

// masksAVX2 is blockMasksGo with 32-byte compares (structural_amd64.s).
//
//go:noescape
func masksAVX2(p *byte, m *masks)

// blockMasks returns the masks of the 64 bytes b starts with.
func blockMasks(b []byte) masks {
	if !vector {
		return blockMasksGo(b)
	}
	var m masks
	masksAVX2(&b[:64][0], &m)
	return m
}
