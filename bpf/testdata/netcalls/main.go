// Command netcalls makes the socket calls the capture tests look for, with
// raw syscalls so that each is exactly one call: a TCP listener and a
// connection to it, a dup2 of the accepted socket to fd 100, a UDP sendto,
// and finally an execveat of /bin/true. Before the exec it prints the
// server and client ports and the four descriptors: listener, client,
// accepted, UDP.
package main

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { runtime.LockOSThread() } // exec from the main thread

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "netcalls:", err)
		os.Exit(1)
	}
}

func run() error {
	loopback := [4]byte{127, 0, 0, 1}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: loopback}); err != nil {
		return err
	}
	if err := unix.Listen(ln, 1); err != nil {
		return err
	}
	sa, _ := unix.Getsockname(ln)
	server := sa.(*unix.SockaddrInet4).Port
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	if err := unix.Connect(c, &unix.SockaddrInet4{Addr: loopback, Port: server}); err != nil {
		return err
	}
	sa, _ = unix.Getsockname(c)
	client := sa.(*unix.SockaddrInet4).Port
	a, _, err := unix.Accept4(ln, 0)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_DUP2, uintptr(a), 100, 0); errno != 0 {
		return errno
	}
	u, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	if err := unix.Sendto(u, []byte("x"), 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 2}, Port: 9}); err != nil {
		return err
	}
	fmt.Println(server, client, ln, c, a, u)
	os.Stdout.Sync()
	return execveat("/bin/true")
}

var atFDCWD = unix.AT_FDCWD // a variable: a negative constant cannot convert to uintptr

// execveat runs path with execveat(AT_FDCWD, path, [path], [], 0).
func execveat(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	argv := []*byte{p, nil}
	env := []*byte{nil}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&env[0])), 0, 0)
	return fmt.Errorf("execveat: %w", errno)
}
