// Command memfdexec runs a copy of /bin/true from memory: memfd_create,
// write, execveat(fd, "", AT_EMPTY_PATH), the fileless execution that
// Falco's "Fileless execution via memfd_create" looks for.
package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "memfdexec:", err)
		os.Exit(1)
	}
}

func run() error {
	payload, err := os.ReadFile("/bin/true")
	if err != nil {
		return err
	}
	fd, err := unix.MemfdCreate("payload", 0)
	if err != nil {
		return err
	}
	if _, err := unix.Write(fd, payload); err != nil {
		return err
	}
	empty, _ := unix.BytePtrFromString("")
	name, _ := unix.BytePtrFromString("payload")
	argv := []*byte{name, nil}
	env := []*byte{nil}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&env[0])), unix.AT_EMPTY_PATH, 0)
	return fmt.Errorf("execveat: %w", errno)
}
