#include "textflag.h"

// passGo and blockMasksGo (structural.go) in vector instructions: see
// there for what each step computes. The bytes compared are broadcast
// from memory (a legacy-SSE move into an X register while the Y
// registers are in use costs a state transition).
DATA quote<>+0(SB)/1, $0x22
GLOBL quote<>(SB), RODATA|NOPTR, $1
DATA backslash<>+0(SB)/1, $0x5c
GLOBL backslash<>(SB), RODATA|NOPTR, $1
DATA bit5<>+0(SB)/1, $0x20
GLOBL bit5<>(SB), RODATA|NOPTR, $1
DATA opener<>+0(SB)/1, $0x7b
GLOBL opener<>(SB), RODATA|NOPTR, $1
DATA closer<>+0(SB)/1, $0x7d
GLOBL closer<>(SB), RODATA|NOPTR, $1

// MASK sets dst to one bit a byte of the block in Y0:Y1 (by Y4:Y5 for
// the brackets, bit 5 set), for the bytes equal to those of want.
#define MASK(lo, hi, want, dst) \
	VPCMPEQB lo, want, Y2; \
	VPCMPEQB hi, want, Y3; \
	VPMOVMSKB Y2, dst; \
	VPMOVMSKB Y3, BX; \
	SHLQ $32, BX; \
	ORQ BX, dst

// CONSTANTS broadcasts the bytes compared into Y8-Y12.
#define CONSTANTS \
	VPBROADCASTB quote<>(SB), Y8; \
	VPBROADCASTB backslash<>(SB), Y9; \
	VPBROADCASTB bit5<>(SB), Y10; \
	VPBROADCASTB opener<>(SB), Y11; \
	VPBROADCASTB closer<>(SB), Y12

// MASKS reads the 64 bytes at AX: CX quotes, DX backslashes, R8 openers,
// R9 closers (BX and Y0-Y5 clobbered).
#define MASKS \
	VMOVDQU (AX), Y0; \
	VMOVDQU 32(AX), Y1; \
	MASK(Y0, Y1, Y8, CX); \
	MASK(Y0, Y1, Y9, DX); \
	VPOR Y0, Y10, Y4; \
	VPOR Y1, Y10, Y5; \
	MASK(Y4, Y5, Y11, R8); \
	MASK(Y4, Y5, Y12, R9)

// func passAVX2(p *byte, blocks int, s *scanner) int
//
// Registers: AX the block, SI the blocks, R13 those passed; the
// scanner in R10 (escapeNext), R11 (inString), R12 (depth), saved in X7
// and X6 at each block so that a block left to the Go code is left as it
// was; R14 the even bits, X13 all ones (the prefix XOR is a carry-less
// multiplication by it). Per block: CX quotes, DX backslashes, R8
// openers, R9 closers; BX, R15, DI scratch.
TEXT ·passAVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), AX
	MOVQ blocks+8(FP), SI
	MOVQ s+16(FP), DI
	MOVQ 0(DI), R10
	MOVQ 8(DI), R11
	MOVQ 16(DI), R12
	XORQ R13, R13
	MOVQ $0x5555555555555555, R14
	MOVQ $-1, BX
	VMOVQ BX, X13
	CONSTANTS

loop:
	CMPQ R13, SI
	JEQ done
	VMOVQ R10, X7
	VMOVQ R11, X6
	MASKS

	// escaped: DI first, DX backslashes it does not escape, BX run starts.
	MOVQ R10, DI
	MOVQ R10, BX
	NOTQ BX
	ANDQ BX, DX
	MOVQ DX, BX
	SHLQ $1, BX
	NOTQ BX
	ANDQ DX, BX
	MOVQ BX, R15
	ANDQ R14, R15        // starts on even bits
	XORQ R15, BX         // starts on odd bits
	ADDQ DX, R15
	ADDQ DX, BX          // carry: an odd-started run reaches bit 63
	SETCS R10
	MOVBQZX R10, R10
	NOTQ DX
	ANDQ DX, R15         // ends of even-started runs
	ANDQ DX, BX          // ends of odd-started runs
	XORQ R15, BX         // odd-started ends on even bits, even-started on odd bits
	ANDQ R14, BX
	XORQ R15, BX
	ORQ DI, BX

	// Inside strings: the prefix XOR of the unescaped quotes.
	NOTQ BX
	ANDQ BX, CX
	VMOVQ CX, X2
	VPCLMULQDQ $0x00, X13, X2, X2
	VMOVQ X2, CX
	XORQ R11, CX
	MOVQ CX, R11
	SARQ $63, R11
	NOTQ CX
	ANDQ CX, R8
	ANDQ CX, R9

	// Depth: leave to the Go code a block where it may reach zero.
	POPCNTQ R9, BX
	CMPQ BX, R12
	JGE stop
	POPCNTQ R8, DX
	ADDQ DX, R12
	SUBQ BX, R12
	ADDQ $64, AX
	INCQ R13
	JMP loop

stop:
	VMOVQ X7, R10
	VMOVQ X6, R11

done:
	MOVQ s+16(FP), DI
	MOVQ R10, 0(DI)
	MOVQ R11, 8(DI)
	MOVQ R12, 16(DI)
	MOVQ R13, ret+24(FP)
	VZEROUPPER
	RET

// func masksAVX2(p *byte, m *masks)
TEXT ·masksAVX2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ m+8(FP), DI
	CONSTANTS
	MASKS
	MOVQ CX, 0(DI)
	MOVQ DX, 8(DI)
	MOVQ R8, 16(DI)
	MOVQ R9, 24(DI)
	VZEROUPPER
	RET
