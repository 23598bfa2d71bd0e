// SPDX-License-Identifier: GPL-2.0
// Peregrine's syscall capture: process lifecycle from the sched
// tracepoints, and the syscalls the loaded rules need from per-syscall
// tracepoints, whose arguments are read at exit (where user pages are
// resident) and sent to user space through a ring buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define PATH_LEN 256
#define ARGS_LEN 512

enum kind {
	K_EXEC = 1,
	K_FORK = 2,
	K_EXIT = 3,
	K_OPEN = 4,
	K_CONNECT = 5,
	K_GENERIC = 6,  // a syscall with numeric arguments and up to two paths
};

// One record per event. Fixed size keeps the verifier simple; the Go side
// reads it in place. Largest fields last.
struct event {
	__u64 ts_ns;
	__u64 cgroup_id;
	__s64 ret;
	__u32 kind;
	__u32 syscall;   // the syscall's own number of events (see enum in Go)
	__u32 pid;       // host tgid
	__u32 tid;
	__u32 ppid;      // host tgid of the real parent (child pid for K_FORK)
	__u32 uid;
	__u32 gid;
	__u32 loginuid;
	__u32 tty;       // (major << 8) | minor of the controlling terminal, 0 if none
	__u32 flags;     // open flags
	__u32 ns_pid;    // tgid inside the task's pid namespace
	__u32 pidns;
	__u32 args_len;  // K_EXEC: bytes of argv (NUL separated)
	__s32 fd;        // K_CONNECT: the socket
	__s64 nums[6];   // K_GENERIC: the raw arguments
	__u16 family;
	__u16 port;      // K_CONNECT: destination port, host order
	__u8 addr[16];   // K_CONNECT: IPv4 in the first 4 bytes, or IPv6
	char comm[16];
	char path[PATH_LEN];
	char args[ARGS_LEN];
};
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

// Counters, per CPU: 0 records sent, 1 records dropped (ring buffer full),
// 2 string reads that failed.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

// Arguments saved at syscall entry, read at exit, keyed by pid_tgid.
struct args {
	__u64 ptr;    // path or sockaddr
	__u32 flags;
	__s32 fd;
	__u32 nr;
	__s32 path1;  // K_GENERIC: which arguments are paths (-1: none)
	__s32 path2;
	__u64 raw[6];
};

// LRU: a thread killed inside a syscall never reaches the exit program, and
// its entry must not stay until the map is full and saving starts failing.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct args);
} pending SEC(".maps");

const volatile __u32 self_tgid = 0;     // the agent: never captured
const volatile __u64 wakeup_bytes = 0;  // wake the reader only once this much is queued (0: every record)

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline __u64 wakeup_flags(void)
{
	if (!wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

// Records without argv (all but exec) stop before args: less to copy and
// less ring buffer space per event.
#define SHORT_EVENT __builtin_offsetof(struct event, args)

static __always_inline struct event *reserve(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		count(1);
	return e;
}

static __always_inline struct event *reserve_short(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, SHORT_EVENT, 0);
	if (!e)
		count(1);
	return e;
}

static __always_inline void submit(struct event *e)
{
	count(0);
	bpf_ringbuf_submit(e, wakeup_flags());
}

static __always_inline void fill(struct event *e, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 uid_gid = bpf_get_current_uid_gid();

	e->kind = kind;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = task->tgid;
	e->tid = task->pid;
	e->ppid = task->real_parent->tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->loginuid = task->loginuid.val;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));

	struct tty_struct *tty = task->signal->tty;
	if (tty) {
		int major = BPF_CORE_READ(tty, driver, major);
		int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		e->tty = (major << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
	} else {
		e->tty = 0;
	}

	struct pid *tp = task->group_leader->thread_pid;
	unsigned int level = tp->level;
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up),
			      (void *)tp + bpf_core_field_offset(struct pid, numbers) + (level & 31) * sizeof(struct upid));
	e->ns_pid = up.nr;
	e->pidns = BPF_CORE_READ(up.ns, ns.inum);
}

static __always_inline bool is_self(void)
{
	return self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

// ---- process lifecycle ----------------------------------------------------

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (is_self())
		return 0;
	struct event *e = reserve();
	if (!e)
		return 0;
	fill(e, K_EXEC);
	unsigned int off = ctx->__data_loc_filename & 0xFFFF;
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), (void *)ctx + off) < 0)
		count(2);

	struct task_struct *task = bpf_get_current_task_btf();
	unsigned long start = task->mm->arg_start, end = task->mm->arg_end;
	unsigned long n = end - start;
	if (n > ARGS_LEN - 1)
		n = ARGS_LEN - 1;
	n &= ARGS_LEN - 1; // a bound the verifier can see (ARGS_LEN is a power of two)
	long r = bpf_probe_read_user(e->args, n, (void *)start);
	e->args_len = r == 0 ? n : 0;
	if (r)
		count(2);
	e->ret = 0;
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (child->pid != child->tgid) // a new thread, not a process
		return 0;
	if (is_self())
		return 0;
	struct event *e = reserve_short();
	if (!e)
		return 0;
	fill(e, K_FORK);
	e->ppid = child->tgid; // the child, for K_FORK
	e->ret = 0;
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	if (task->pid != task->tgid) // a thread ends, the process lives on
		return 0;
	if (is_self())
		return 0;
	struct event *e = reserve_short();
	if (!e)
		return 0;
	fill(e, K_EXIT);
	e->ret = task->exit_code >> 8;
	submit(e);
	return 0;
}

// ---- syscalls: save at enter, emit at exit ---------------------------------

static __always_inline int save(__u64 ptr, __u32 flags, __s32 fd, __u32 nr)
{
	if (is_self())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {.ptr = ptr, .flags = flags, .fd = fd, .nr = nr};
	bpf_map_update_elem(&pending, &id, &a, BPF_ANY);
	return 0;
}

// pending_args returns what this thread's enter of syscall nr saved. An
// entry saved by another syscall (whose exit never came: the thread was
// killed, or the probe attached in between) is dropped, never mis-paired.
static __always_inline struct args *pending_args(__u64 id, __u32 nr)
{
	struct args *a = bpf_map_lookup_elem(&pending, &id);
	if (a && a->nr != nr) {
		bpf_map_delete_elem(&pending, &id);
		return 0;
	}
	return a;
}

static __always_inline int emit_open(long ret, __u32 nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = pending_args(id, nr);
	if (!a)
		return 0;
	struct event *e = reserve_short();
	if (e) {
		fill(e, K_OPEN);
		e->syscall = a->nr;
		e->flags = a->flags;
		e->ret = ret;
		if (bpf_probe_read_user_str(e->path, sizeof(e->path), (void *)a->ptr) < 0) {
			count(2);
			e->path[0] = 0;
		}
		submit(e);
	}
	bpf_map_delete_elem(&pending, &id);
	return 0;
}

// Syscall numbers as Peregrine names them (not the kernel's: portable).
#define NR_OPEN 1
#define NR_OPENAT 2
#define NR_OPENAT2 3
#define NR_CREAT 4
#define NR_CONNECT 5

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return save(ctx->args[1], ctx->args[2], 0, NR_OPENAT);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx) { return emit_open(ctx->ret, NR_OPENAT); }

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return save(ctx->args[0], ctx->args[1], 0, NR_OPEN);
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx) { return emit_open(ctx->ret, NR_OPEN); }

SEC("tracepoint/syscalls/sys_enter_creat")
int enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	// creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode)
	return save(ctx->args[0], 01 | 0100 | 01000, 0, NR_CREAT);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx) { return emit_open(ctx->ret, NR_CREAT); }

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return save(ctx->args[1], (__u32)how.flags, 0, NR_OPENAT2);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx) { return emit_open(ctx->ret, NR_OPENAT2); }

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return save(ctx->args[1], 0, (__s32)ctx->args[0], NR_CONNECT);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = pending_args(id, NR_CONNECT);
	if (!a)
		return 0;
	struct event *e = reserve_short();
	if (e) {
		fill(e, K_CONNECT);
		e->syscall = NR_CONNECT;
		e->ret = ctx->ret;
		e->fd = a->fd;
		struct sockaddr_in6 sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), (void *)a->ptr);
		e->family = sa.sin6_family;
		e->port = bpf_ntohs(sa.sin6_port);
		if (sa.sin6_family == 2) { // AF_INET: sockaddr_in overlays the first bytes
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;
			__builtin_memcpy(e->addr, &in->sin_addr, 4);
		} else if (sa.sin6_family == 10) { // AF_INET6
			__builtin_memcpy(e->addr, &sa.sin6_addr, 16);
		}
		submit(e);
	}
	bpf_map_delete_elem(&pending, &id);
	return 0;
}

// ---- generic syscalls: numbers, and up to two paths read at exit ---------

static __always_inline int save_generic(struct trace_event_raw_sys_enter *ctx, __u32 nr, int n, int p1, int p2)
{
	if (is_self())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {.nr = nr, .path1 = p1, .path2 = p2};
	// Constant offsets only (the verifier refuses a moved context pointer),
	// and never past the syscall's own arguments: the kernel refuses to
	// attach a program that reads beyond the tracepoint record (EACCES).
	if (n > 0) a.raw[0] = ctx->args[0];
	if (n > 1) a.raw[1] = ctx->args[1];
	if (n > 2) a.raw[2] = ctx->args[2];
	if (n > 3) a.raw[3] = ctx->args[3];
	if (n > 4) a.raw[4] = ctx->args[4];
	if (n > 5) a.raw[5] = ctx->args[5];
	bpf_map_update_elem(&pending, &id, &a, BPF_ANY);
	return 0;
}

static __always_inline void read_path(char *dst, int size, struct args *a, int which)
{
	if (which < 0 || which > 5) {
		dst[0] = 0;
		return;
	}
	if (bpf_probe_read_user_str(dst, size, (void *)a->raw[which & 7]) < 0) {
		count(2);
		dst[0] = 0;
	}
}

static __always_inline int emit_generic(long ret, __u32 nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = pending_args(id, nr);
	if (!a)
		return 0;
	struct event *e = reserve();
	if (e) {
		fill(e, K_GENERIC);
		e->syscall = a->nr;
		e->ret = ret;
		#pragma unroll
		for (int i = 0; i < 6; i++)
			e->nums[i] = a->raw[i];
		read_path(e->path, sizeof(e->path), a, a->path1);
		read_path(e->args, PATH_LEN, a, a->path2);
		e->args_len = 0;
		submit(e);
	}
	bpf_map_delete_elem(&pending, &id);
	return 0;
}

// GENERIC_TP: programs named after Falco's event type, on the kernel's
// tracepoint (the two differ for umount2).
#define GENERIC_TP(name, tp, nr, n, p1, p2)                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #tp)                                             \
	int enter_##name(struct trace_event_raw_sys_enter *ctx) { return save_generic(ctx, nr, n, p1, p2); } \
	SEC("tracepoint/syscalls/sys_exit_" #tp)                                              \
	int exit_##name(struct trace_event_raw_sys_exit *ctx) { return emit_generic(ctx->ret, nr); }
#define GENERIC(name, nr, n, p1, p2) GENERIC_TP(name, name, nr, n, p1, p2)

// Numbers continue Peregrine's syscall numbering (bpf/capture.go).
GENERIC(setuid, 10, 1, -1, -1)
GENERIC(setgid, 11, 1, -1, -1)
GENERIC(setresuid, 12, 3, -1, -1)
GENERIC(setresgid, 13, 3, -1, -1)
GENERIC(unlink, 14, 1, 0, -1)
GENERIC(unlinkat, 15, 3, 1, -1)
GENERIC(rename, 16, 2, 0, 1)
GENERIC(renameat, 17, 4, 1, 3)
GENERIC(renameat2, 18, 5, 1, 3)
GENERIC(mkdir, 19, 2, 0, -1)
GENERIC(mkdirat, 20, 3, 1, -1)
GENERIC(rmdir, 21, 1, 0, -1)
GENERIC(symlink, 22, 2, 0, 1)
GENERIC(symlinkat, 23, 3, 0, 2)
GENERIC(chmod, 24, 2, 0, -1)
GENERIC(fchmodat, 25, 3, 1, -1)
GENERIC(fchmod, 26, 2, -1, -1)
GENERIC(ptrace, 27, 4, -1, -1)
GENERIC(memfd_create, 28, 2, 0, -1)
GENERIC(bpf, 29, 3, -1, -1)
GENERIC(socket, 30, 3, -1, -1)
GENERIC(unshare, 31, 1, -1, -1)
GENERIC(setns, 32, 2, -1, -1)
GENERIC(link, 33, 2, 0, 1)
GENERIC(linkat, 34, 5, 1, 3)
GENERIC(listen, 35, 2, -1, -1)
GENERIC(dup, 36, 1, -1, -1)
GENERIC(dup2, 37, 2, -1, -1)
GENERIC(dup3, 38, 3, -1, -1)
GENERIC(mount, 39, 5, 0, 1)
GENERIC_TP(umount2, umount, 40, 2, 0, -1)
GENERIC(init_module, 41, 3, -1, -1)
GENERIC(finit_module, 42, 3, -1, -1)
