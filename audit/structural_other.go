//go:build !amd64

package audit

// pass moves s over the whole 64-byte blocks that b starts with in which
// the depth cannot reach zero, and returns how many it passed.
func pass(b []byte, s *scanner) int { return passGo(b, s) }

// blockMasks returns the masks of the 64 bytes b starts with.
func blockMasks(b []byte) masks { return blockMasksGo(b) }
