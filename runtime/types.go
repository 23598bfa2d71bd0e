package runtime

// Type is a syscall event type code.
type Type uint16

// typeNames lists the event types the syscall source knows, by code. They
// are Falco's evt.type names: syscall names plus procexit and friends.
var typeNames = []string{
	"unknown", "open", "openat", "openat2", "creat", "close", "read", "write", "pread", "pwrite",
	"readv", "writev", "execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit", "socket",
	"socketpair", "bind", "connect", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockopt", "setsockopt", "pipe", "pipe2",
	"eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "inotify_init", "inotify_init1",
	"epoll_create", "epoll_create1", "dup", "dup2", "dup3", "fcntl", "ioctl", "mmap", "mprotect",
	"munmap", "brk", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
	"fchown", "fchownat", "lchown", "mount", "umount", "umount2", "setuid", "setgid", "setresuid",
	"setresgid", "setreuid", "setregid", "setfsuid", "setfsgid", "capset", "ptrace", "kill", "tkill",
	"tgkill", "bpf", "memfd_create", "init_module", "finit_module", "delete_module", "setns",
	"unshare", "userfaultfd", "chroot", "fchdir", "chdir", "prctl", "seccomp", "pivot_root",
	"setrlimit", "prlimit", "flock", "splice", "sendfile", "truncate", "ftruncate", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "process_vm_readv", "process_vm_writev", "mknod", "mknodat",
	"quotactl", "getdents", "getdents64", "nanosleep", "futex", "poll", "select", "stat", "lstat",
	"fstat", "access", "utimensat", "signaldeliver", "container", "switch",
}

var typeCodes = func() map[string]int {
	m := make(map[string]int, len(typeNames))
	for i, n := range typeNames {
		m[n] = i
	}
	return m
}()

// typeOf returns the code of a type name, or 0 (unknown).
func typeOf(name string) Type { return Type(typeCodes[name]) }

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return typeNames[0]
}
