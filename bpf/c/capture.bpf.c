// SPDX-License-Identifier: GPL-2.0
// Peregrine's syscall capture: process lifecycle from the sched
// tracepoints, and the syscalls the loaded rules need from their exit
// tracepoints. Only exits are attached: the arguments are still in the
// task's saved registers there, and user memory (paths, socket addresses)
// is read after the kernel has used it, so it is resident. One tracepoint
// and no per-call map traffic is what keeps a captured syscall cheap.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define PATH_LEN 256
#define ARGS_LEN 512
#define ENV_LEN 2048
#define EXE_PATH_LEN 512 // two halves: a component starts in the first, may end in the second
#define EXE_PATH_DEPTH 48 // dentries and mount points
#define SUBREAPER 32 // exe_flags of a process record: it adopts its descendants' orphans (PR_SET_CHILD_SUBREAPER)

enum kind {
	K_EXEC = 1,
	K_FORK = 2,
	K_EXIT = 3,
	K_OPEN = 4,
	K_SYSCALL = 6, // any other syscall: raw arguments, up to three strings, a socket
};

// One record per event, in sections that records of each kind stop after:
// opens carry the header and the path; other syscalls add their arguments
// and socket, lifecycle records the process; argv and the environment
// come last, sent only where they are used. Fixed offsets keep the
// verifier simple; the Go side reads the record in place.
struct event {
	// header: every record
	__u64 ts_ns;
	__s64 ret;
	__u32 kind;
	__u32 syscall;   // Peregrine's number of the syscall (bpf/capture.go)
	__u32 pid;       // host tgid
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u32 flags;     // open flags
	__s32 fd;        // the fd the call acts on (K_OPEN: the dirfd)
	char path[PATH_LEN];
	// syscalls: raw arguments, and the socket behind fd when it is one
	// (family 0 otherwise); the remote end is the caller's sockaddr where
	// it gave one
	__s64 nums[6];
	__u16 family;
	__u16 port;      // remote port, host order
	__u16 lport;     // local port, host order
	__u8 l4proto;    // IPPROTO_TCP, IPPROTO_UDP, ...
	__u8 sock_state; // SS_CONNECTED = 3
	__u8 addr[16];   // remote: IPv4 in the first 4 bytes, or IPv6
	__u8 laddr[16];  // local
	// process: lifecycle records
	__u64 cgroup_id;
	__u32 ppid;      // host tgid of the real parent (child pid for K_FORK)
	__u32 loginuid;
	__u32 tty;       // (major << 8) | minor of the controlling terminal, 0 if none
	__u32 ns_pid;    // tgid inside the task's pid namespace
	__u32 pidns;
	__u32 sid;       // host session id
	__u32 vpgid;     // process group id inside the pid namespace
	__u32 args_len;  // K_EXEC: bytes of argv (NUL separated)
	__u32 env_len;   // K_EXEC: bytes of the environment, when asked for
	__u32 exe_flags; // K_EXEC: EXE_UPPER_LAYER, EXE_MEMFD, EXE_WRITABLE, EXE_LOWER_LAYER; process: SUBREAPER
	__u64 exe_ino;   // K_EXEC: the executable's inode, and its times (ns)
	__u64 exe_ctime;
	__u64 exe_mtime;
	__u64 cap_effective; // process: capability sets (bit N is capability N)
	__u64 cap_permitted;
	char comm[16];
	char args[ARGS_LEN]; // K_EXEC: argv; K_SYSCALL: the second and third string
	char env[ENV_LEN];   // K_EXEC: the environment (NUL separated), when asked for
	// K_EXEC with EXE_PATH: the executable's path from the process's root,
	// at exe_path[exe_path_off:EXE_PATH_LEN / 2]. Last, so that the
	// shorter records (syscalls, forks, exits) reserve none of it.
	char exe_path[EXE_PATH_LEN];
	__u16 exe_path_off;
};
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

// Counters, per CPU: 1 records dropped (ring buffer full), 2 string reads
// that failed. (0 is unused: user space counts what it receives, which
// spares every record a map lookup.)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

const volatile __u32 self_tgid = 0;     // the agent: never captured
const volatile __u32 wakeup_every = 0; // wake the reader once per this many records of a CPU (0: every record)
const volatile bool capture_env = false; // read the environment at exec (rules use proc.env)

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

// Records sent since the last wake-up, per CPU: a plain global, so that
// deciding reads no ring buffer state (asking the ring how much is queued,
// whose positions the reader writes from another CPU, cost ~130 ns of the
// ~560 ns an open record took). Syscall exits on one CPU do not nest.
#define MAX_CPUS 1024
__u32 since_wakeup[MAX_CPUS];

static __always_inline __u64 wakeup_flags(void)
{
	if (!wakeup_every)
		return 0;
	__u32 cpu = bpf_get_smp_processor_id();
	if (cpu >= MAX_CPUS)
		return 0;
	if (++since_wakeup[cpu] < wakeup_every)
		return BPF_RB_NO_WAKEUP;
	since_wakeup[cpu] = 0;
	return BPF_RB_FORCE_WAKEUP;
}

#define OPEN_EVENT __builtin_offsetof(struct event, nums)
#define SHORT_EVENT __builtin_offsetof(struct event, args)
#define ARGS_EVENT __builtin_offsetof(struct event, env)

static __always_inline struct event *reserve(__u64 size)
{
	struct event *e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e)
		count(1);
	return e;
}

static __always_inline void submit(struct event *e)
{
	bpf_ringbuf_submit(e, wakeup_flags());
}

static __always_inline bool is_self(void)
{
	return self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

// upid_nr is the number of pid p in the namespace at level.
static __always_inline __u32 upid_nr(struct pid *p, unsigned int level, struct pid_namespace **ns)
{
	struct upid up = {};
	if (!p)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up),
			      (void *)p + bpf_core_field_offset(struct pid, numbers) + (level & 31) * sizeof(struct upid));
	if (ns)
		*ns = up.ns;
	return up.nr;
}

// fill_process is the process state: sent with lifecycle records only, as
// user space keeps it in its table between them.
static __always_inline void fill_process(struct event *e, __u32 kind, struct task_struct *task)
{
	__u64 uid_gid = bpf_get_current_uid_gid();

	e->kind = kind;
	e->syscall = 0;
	e->flags = 0;
	e->fd = -1;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = task->tgid;
	e->tid = task->pid;
	e->ppid = task->real_parent->tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->loginuid = task->loginuid.val;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
	// kernel_cap_t is one u64 since Linux 6.3 and two u32 before: the
	// same 8 bytes, so read them whole rather than by a field's name.
	const struct cred *cred = task->cred;
	bpf_probe_read_kernel(&e->cap_effective, sizeof(e->cap_effective), &cred->cap_effective);
	bpf_probe_read_kernel(&e->cap_permitted, sizeof(e->cap_permitted), &cred->cap_permitted);
	e->exe_flags = BPF_CORE_READ_BITFIELD_PROBED(task->signal, is_child_subreaper) ? SUBREAPER : 0;

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
	struct pid_namespace *ns = 0;
	e->ns_pid = upid_nr(tp, level, &ns);
	e->pidns = BPF_CORE_READ(ns, ns.inum);
	e->sid = upid_nr(task->signal->pids[PIDTYPE_SID], 0, 0);
	e->vpgid = upid_nr(task->signal->pids[PIDTYPE_PGID], level, 0);
}

// fill_syscall is what a syscall record needs beyond its arguments.
static __always_inline void fill_syscall(struct event *e, __u32 kind, __u32 nr, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->kind = kind;
	e->syscall = nr;
	e->ret = ret;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->fd = -1;
}

// ---- process lifecycle ----------------------------------------------------

#define NR_EXECVE 7
#define NR_EXECVEAT 8

// Processes inside an execveat. sched_process_exec cannot tell the two
// exec calls apart by itself (the saved syscall number reads as execve
// there), so the enter of execveat marks the process and the exec, or the
// failed call's exit, clears the mark. Keyed by tgid: a thread that execs
// takes over the process's id.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} in_execveat SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execveat")
int enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;
	bpf_map_update_elem(&in_execveat, &tgid, &one, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_delete_elem(&in_execveat, &tgid);
	return 0;
}

#define EXE_UPPER_LAYER 1 // the file was written in the container (overlayfs upper layer)
#define EXE_MEMFD 2       // the file lives only in memory (memfd_create)
#define EXE_WRITABLE 4    // the process's user may write the file it runs
#define EXE_LOWER_LAYER 8 // the file is the image's (overlayfs lower layer)
#define EXE_PATH 16       // exe_path holds the executable's path
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define SB_RDONLY_FLAG 1  // SB_RDONLY
#define S_IMMUTABLE_FLAG 8 // S_IMMUTABLE

// exe_writable says whether the task may write inode, as the permission
// check would: not on a read-only filesystem nor an immutable file;
// root (CAP_DAC_OVERRIDE, which root keeps in containers by default) may;
// otherwise the owner's, group's or others' write bit, by fsuid and fsgid.
static __always_inline bool exe_writable(struct task_struct *task, struct inode *ino)
{
	if ((ino->i_sb->s_flags & SB_RDONLY_FLAG) || (ino->i_flags & S_IMMUTABLE_FLAG))
		return false;
	const struct cred *cred = task->cred;
	__u32 fsuid = cred->fsuid.val, fsgid = cred->fsgid.val;
	umode_t mode = ino->i_mode;
	if (fsuid == 0)
		return true;
	if (fsuid == ino->i_uid.val)
		return mode & 0200;
	if (fsgid == ino->i_gid.val)
		return mode & 0020;
	return mode & 0002;
}

// The walk of exe_path, one step per bpf_loop iteration: a callback is
// verified once, where a loop of its steps is verified path by path, and
// that is past the verifier's budget. Its state lives in a per-CPU map,
// not on the stack: values read from a map are unknown to the verifier,
// so the iterations it checks look alike and it is done after one.
struct exe_walk {
	__u64 d, root, vmnt, rootmnt, mnt; // dentries and mounts, by address
	__u64 pos;                         // where the path written so far starts
	__s64 result;                      // 0 walking, 1 done, -1 given up
	char buf[EXE_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exe_walk);
} exe_walks SEC(".maps");

const volatile bool have_loop = false; // the kernel has bpf_loop (5.17)

static long exe_walk_step(__u32 i, void *ctx)
{
	__u32 zero = 0;
	struct exe_walk *w = bpf_map_lookup_elem(&exe_walks, &zero);
	if (!w)
		return 1;
	if (w->d == w->root && w->vmnt == w->rootmnt) {
		w->result = 1;
		return 1;
	}
	// Locals, not w's fields, in BPF_CORE_READ: it would relocate every
	// access, w's own too, and struct exe_walk is not the kernel's.
	struct dentry *d = (void *)w->d, *parent = BPF_CORE_READ(d, d_parent);
	struct vfsmount *vmnt = (void *)w->vmnt;
	if (d == BPF_CORE_READ(vmnt, mnt_root) || d == parent) {
		struct mount *mnt = (void *)w->mnt, *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt) { // the root of all mounts
			w->result = 1;
			return 1;
		}
		w->d = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)up;
		w->vmnt = (__u64)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	unsigned long len = BPF_CORE_READ(d, d_name.len), pos = w->pos;
	if (len == 0 || len + 1 > pos || pos > EXE_PATH_LEN / 2) {
		w->result = -1;
		return 1;
	}
	pos -= len;
	// Masked after a barrier, or clang drops masks it can prove redundant
	// and the verifier, which cannot, refuses the access.
	unsigned long at = pos;
	asm volatile("" : "+r"(at), "+r"(len));
	at &= EXE_PATH_LEN / 2 - 1;
	len &= EXE_PATH_LEN / 2 - 1;
	bpf_probe_read_kernel(&w->buf[at], len, BPF_CORE_READ(d, d_name.name));
	pos--;
	w->buf[pos & (EXE_PATH_LEN / 2 - 1)] = '/';
	w->pos = pos;
	w->d = (__u64)parent;
	return 0;
}

// exe_path writes the path of the executable as the process sees it (from
// its root, so a container's program is /usr/bin/x, not the host's path to
// the image): the dentries up to each mount's root, then the mount point
// below it. A tracepoint may not call bpf_d_path, so this walks by hand,
// leaf first, writing each component before the previous one: the path
// ends at exe_path[EXE_PATH_LEN / 2] and starts at exe_path_off. It
// reports false past EXE_PATH_DEPTH steps or EXE_PATH_LEN / 2 bytes, and
// on kernels without bpf_loop; user space then falls back to /proc.
static __always_inline bool exe_path(struct event *e, struct task_struct *task, struct file *exe)
{
	__u32 zero = 0;
	struct exe_walk *w = bpf_map_lookup_elem(&exe_walks, &zero);
	if (!have_loop || !w)
		return false;
	struct vfsmount *vmnt = exe->f_path.mnt;
	w->d = (__u64)exe->f_path.dentry;
	w->root = (__u64)task->fs->root.dentry;
	w->vmnt = (__u64)vmnt;
	w->rootmnt = (__u64)task->fs->root.mnt;
	w->mnt = (__u64)vmnt - bpf_core_field_offset(struct mount, mnt);
	w->pos = EXE_PATH_LEN / 2;
	w->result = 0;
	w->buf[EXE_PATH_LEN / 2] = 0;
	bpf_loop(EXE_PATH_DEPTH, exe_walk_step, NULL, 0);
	unsigned long pos = w->pos;
	if (w->result != 1 || pos == 0 || pos > EXE_PATH_LEN / 2)
		return false;
	if (pos == EXE_PATH_LEN / 2) // the root itself
		w->buf[--pos] = '/';
	bpf_probe_read_kernel(e->exe_path, sizeof(e->exe_path), w->buf);
	e->exe_path_off = pos;
	return true;
}

// fill_exe describes the executable the process now runs.
static __always_inline void fill_exe(struct event *e, struct task_struct *task)
{
	struct file *exe = task->mm->exe_file;
	e->exe_flags &= SUBREAPER; // fill_process's
	e->exe_ino = e->exe_ctime = e->exe_mtime = 0;
	if (!exe)
		return;
	struct inode *ino = exe->f_inode;
	e->exe_ino = ino->i_ino;
	if (bpf_core_field_exists(ino->i_ctime_sec)) {
		e->exe_ctime = ino->i_ctime_sec * 1000000000ULL + ino->i_ctime_nsec;
		e->exe_mtime = ino->i_mtime_sec * 1000000000ULL + ino->i_mtime_nsec;
	}
	if (ino->i_sb->s_magic == OVERLAYFS_SUPER_MAGIC) {
		// An overlay inode is embedded in struct ovl_inode; a file with an
		// upper dentry was written above the image's layers.
		void *ovl = (void *)ino - bpf_core_field_offset(struct ovl_inode, vfs_inode);
		struct dentry *upper = 0;
		bpf_probe_read_kernel(&upper, sizeof(upper), ovl + bpf_core_field_offset(struct ovl_inode, __upperdentry));
		e->exe_flags |= upper ? EXE_UPPER_LAYER : EXE_LOWER_LAYER;
	}
	if (exe_writable(task, ino))
		e->exe_flags |= EXE_WRITABLE;
	char name[6] = {};
	bpf_probe_read_kernel(name, sizeof(name), exe->f_path.dentry->d_name.name);
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':') {
		// Run through a descriptor (/dev/fd/N): the file's own name,
		// memfd:NAME, says what it is.
		e->exe_flags |= EXE_MEMFD;
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), exe->f_path.dentry->d_name.name);
	} else if (exe_path(e, task, exe)) {
		e->exe_flags |= EXE_PATH;
	}
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (is_self())
		return 0;
	struct event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	fill_process(e, K_EXEC, task);
	e->syscall = NR_EXECVE;
	if (bpf_map_lookup_elem(&in_execveat, &e->pid)) {
		e->syscall = NR_EXECVEAT;
		bpf_map_delete_elem(&in_execveat, &e->pid);
	}
	unsigned int off = ctx->__data_loc_filename & 0xFFFF;
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), (void *)ctx + off) < 0)
		count(2);
	fill_exe(e, task);

	unsigned long start = task->mm->arg_start, end = task->mm->arg_end;
	unsigned long n = end - start;
	if (n > ARGS_LEN - 1)
		n = ARGS_LEN - 1;
	n &= ARGS_LEN - 1; // a bound the verifier can see (ARGS_LEN is a power of two)
	long r = bpf_probe_read_user(e->args, n, (void *)start);
	e->args_len = r == 0 ? n : 0;
	if (r)
		count(2);
	e->env_len = 0;
	if (capture_env) {
		start = task->mm->env_start, end = task->mm->env_end;
		n = end - start;
		if (n > ENV_LEN - 1)
			n = ENV_LEN - 1;
		n &= ENV_LEN - 1;
		r = bpf_probe_read_user(e->env, n, (void *)start);
		e->env_len = r == 0 ? n : 0;
		if (r)
			count(2);
	}
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
	struct event *e = reserve(SHORT_EVENT);
	if (!e)
		return 0;
	fill_process(e, K_FORK, bpf_get_current_task_btf());
	e->ppid = child->tgid; // the child, for K_FORK
	e->nums[0] = child->real_parent->tgid; // not the forker with CLONE_PARENT
	struct pid *cp = child->thread_pid;
	e->nums[1] = upid_nr(cp, cp->level, 0); // the child's pid in its namespace
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
	struct event *e = reserve(SHORT_EVENT);
	if (!e)
		return 0;
	fill_process(e, K_EXIT, bpf_get_current_task_btf());
	e->ret = task->exit_code >> 8;
	submit(e);
	return 0;
}

// ---- syscall arguments ------------------------------------------------------

// arg returns syscall argument i (x86_64 calling convention: the fourth is
// in r10) from the registers the task entered the kernel with.
static __always_inline __u64 arg(struct pt_regs *r, int i)
{
	switch (i) {
	case 0: return r->di;
	case 1: return r->si;
	case 2: return r->dx;
	case 3: return r->r10;
	case 4: return r->r8;
	default: return r->r9;
	}
}

static __always_inline struct pt_regs *regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

static __always_inline void read_str(char *dst, int size, __u64 src)
{
	if (bpf_probe_read_user_str(dst, size, (void *)src) < 0) {
		count(2);
		dst[0] = 0;
	}
}

// ---- sockets ------------------------------------------------------------------

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10

// sock_of returns the socket behind this task's fd, or 0 for any other file.
static __always_inline struct socket *sock_of(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	if (!f)
		return 0;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	return BPF_CORE_READ(f, private_data);
}

// fill_sock copies the socket's family, protocol, state and both ends.
static __always_inline void fill_sock(struct event *e, int fd)
{
	struct socket *s = sock_of(fd);
	if (!s)
		return;
	struct sock *sk = BPF_CORE_READ(s, sk);
	if (!sk)
		return;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->l4proto = BPF_CORE_READ(sk, sk_protocol);
	e->sock_state = BPF_CORE_READ(s, state);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->laddr, &l, 4);
		__builtin_memcpy(e->addr, &r, 4);
	} else if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_daddr);
	}
}

// fill_sockaddr takes one end from the caller's sockaddr: the remote one
// (connect, sendto: a failed connect leaves the socket without it) or the
// local one (bind).
static __always_inline void fill_sockaddr(struct event *e, __u64 uaddr, bool local)
{
	struct sockaddr_in6 sa = {};
	if (!uaddr || bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr) < 0)
		return;
	__u8 *dst = local ? e->laddr : e->addr;
	__u16 port = bpf_ntohs(sa.sin6_port);
	if (sa.sin6_family == AF_INET) { // sockaddr_in overlays the first bytes
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		__builtin_memset(dst, 0, 16);
		__builtin_memcpy(dst, &in->sin_addr, 4);
	} else if (sa.sin6_family == AF_INET6) {
		__builtin_memcpy(dst, &sa.sin6_addr, 16);
	} else {
		return;
	}
	e->family = sa.sin6_family;
	if (local)
		e->lport = port;
	else
		e->port = port;
}

// ---- opens: the hot path, kept to the minimum -----------------------------------

// Peregrine's syscall numbers (not the kernel's: portable).
#define NR_OPEN 1
#define NR_OPENAT 2
#define NR_OPENAT2 3
#define NR_CREAT 4

static __always_inline int emit_open(long ret, __u32 nr, int dirfd, __u64 path, __u32 flags)
{
	if (is_self())
		return 0;
	struct event *e = reserve(OPEN_EVENT);
	if (!e)
		return 0;
	fill_syscall(e, K_OPEN, nr, ret);
	e->flags = flags;
	e->fd = dirfd;
	read_str(e->path, sizeof(e->path), path);
	submit(e);
	return 0;
}

#define AT_FDCWD -100

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = regs();
	return emit_open(ctx->ret, NR_OPENAT, (int)arg(r, 0), arg(r, 1), arg(r, 2));
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = regs();
	return emit_open(ctx->ret, NR_OPEN, AT_FDCWD, arg(r, 0), arg(r, 1));
}

SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	// creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode)
	return emit_open(ctx->ret, NR_CREAT, AT_FDCWD, arg(regs(), 0), 01 | 0100 | 01000);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = regs();
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)arg(r, 2));
	return emit_open(ctx->ret, NR_OPENAT2, (int)arg(r, 0), arg(r, 1), (__u32)how.flags);
}

// ---- every other syscall ------------------------------------------------------

// What a syscall's record carries, by argument position plus one (0: none),
// so that unset fields in a SYSCALL() line mean "none".
struct spec {
	int nargs;      // arguments copied to nums
	int str[3];     // strings: path, args[0:256], args[256:512]
	int fd;         // the fd the call acts on; RET: the one it returns
	int sockaddr;   // the caller's sockaddr (MSGHDR: in the msghdr of arg 2)
	bool local;     // the sockaddr is the local end (bind)
	bool addressed; // emit only calls that give a sockaddr (sendto, sendmsg)
};

#define A(i) ((i) + 1)
#define RET 7
#define MSGHDR 8

static __always_inline __u64 sockaddr_of(struct pt_regs *r, int which)
{
	if (which == MSGHDR) {
		struct user_msghdr m = {};
		bpf_probe_read_user(&m, sizeof(m), (void *)arg(r, 1));
		return (__u64)m.msg_name;
	}
	return which ? arg(r, which - 1) : 0;
}

static __always_inline int emit(long ret, __u32 nr, const struct spec *s)
{
	if (is_self())
		return 0;
	struct pt_regs *r = regs();
	__u64 uaddr = sockaddr_of(r, s->sockaddr);
	if (s->addressed && !uaddr)
		return 0; // a send on a connected socket: the connect said it all
	struct event *e = reserve(s->str[1] ? ARGS_EVENT : SHORT_EVENT);
	if (!e)
		return 0;
	fill_syscall(e, K_SYSCALL, nr, ret);
	__builtin_memset(&e->family, 0, __builtin_offsetof(struct event, cgroup_id) - __builtin_offsetof(struct event, family));
	#pragma unroll
	for (int i = 0; i < 6; i++)
		e->nums[i] = i < s->nargs ? arg(r, i) : 0;
	e->path[0] = 0;
	if (s->str[0])
		read_str(e->path, PATH_LEN, arg(r, s->str[0] - 1));
	if (s->str[1]) {
		read_str(e->args, PATH_LEN, arg(r, s->str[1] - 1));
		e->args[PATH_LEN] = 0;
		if (s->str[2])
			read_str(e->args + PATH_LEN, PATH_LEN, arg(r, s->str[2] - 1));
	}
	if (s->fd) {
		e->fd = s->fd == RET ? (int)ret : (int)arg(r, s->fd - 1);
		fill_sock(e, e->fd);
	}
	// The kernel's own view of the local end wins (a bind to port 0 is
	// given one); the caller's sockaddr names the peer it asked for.
	if (s->sockaddr && !(s->local && e->family))
		fill_sockaddr(e, uaddr, s->local);
	e->args_len = 0;
	submit(e);
	return 0;
}

// SYSCALL_TP: the exit program of a syscall, named after Falco's event
// type, on the kernel's tracepoint (the two differ for umount2).
#define SYSCALL_TP(name, tp, nr, ...)                                      \
	SEC("tracepoint/syscalls/sys_exit_" #tp)                           \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)              \
	{                                                                  \
		const struct spec s = {__VA_ARGS__};                       \
		return emit(ctx->ret, nr, &s);                             \
	}
#define SYSCALL(name, nr, ...) SYSCALL_TP(name, name, nr, __VA_ARGS__)

// Numbers continue Peregrine's syscall numbering (bpf/capture.go).
SYSCALL(connect, 5, .nargs = 1, .fd = A(0), .sockaddr = A(1))
SYSCALL(setuid, 10, .nargs = 1)
SYSCALL(setgid, 11, .nargs = 1)
SYSCALL(setresuid, 12, .nargs = 3)
SYSCALL(setresgid, 13, .nargs = 3)
SYSCALL(unlink, 14, .str = {A(0)})
SYSCALL(unlinkat, 15, .nargs = 3, .str = {A(1)})
SYSCALL(rename, 16, .str = {A(0), A(1)})
SYSCALL(renameat, 17, .nargs = 4, .str = {A(1), A(3)})
SYSCALL(renameat2, 18, .nargs = 5, .str = {A(1), A(3)})
SYSCALL(mkdir, 19, .nargs = 2, .str = {A(0)})
SYSCALL(mkdirat, 20, .nargs = 3, .str = {A(1)})
SYSCALL(rmdir, 21, .str = {A(0)})
SYSCALL(symlink, 22, .str = {A(0), A(1)})
SYSCALL(symlinkat, 23, .nargs = 3, .str = {A(0), A(2)})
SYSCALL(chmod, 24, .nargs = 2, .str = {A(0)})
SYSCALL(fchmodat, 25, .nargs = 3, .str = {A(1)})
SYSCALL(fchmod, 26, .nargs = 2)
SYSCALL(ptrace, 27, .nargs = 4)
SYSCALL(memfd_create, 28, .nargs = 2, .str = {A(0)})
SYSCALL(bpf, 29, .nargs = 3)
SYSCALL(socket, 30, .nargs = 3, .fd = RET)
SYSCALL(unshare, 31, .nargs = 1)
SYSCALL(setns, 32, .nargs = 2)
SYSCALL(link, 33, .str = {A(0), A(1)})
SYSCALL(linkat, 34, .nargs = 5, .str = {A(1), A(3)})
SYSCALL(listen, 35, .nargs = 2, .fd = A(0))
SYSCALL(dup, 36, .nargs = 1, .fd = RET)
SYSCALL(dup2, 37, .nargs = 2, .fd = RET)
SYSCALL(dup3, 38, .nargs = 3, .fd = RET)
SYSCALL(mount, 39, .nargs = 5, .str = {A(0), A(1), A(2)})
SYSCALL_TP(umount2, umount, 40, .nargs = 2, .str = {A(0)})
SYSCALL(init_module, 41, .nargs = 3)
SYSCALL(finit_module, 42, .nargs = 3)
SYSCALL(accept, 43, .nargs = 1, .fd = RET)
SYSCALL(accept4, 44, .nargs = 4, .fd = RET)
SYSCALL(bind, 45, .nargs = 1, .fd = A(0), .sockaddr = A(1), .local = true)
SYSCALL(sendto, 46, .nargs = 1, .fd = A(0), .sockaddr = A(4), .addressed = true)
SYSCALL(sendmsg, 47, .nargs = 1, .fd = A(0), .sockaddr = MSGHDR, .addressed = true)
SYSCALL(chdir, 48, .str = {A(0)})
SYSCALL(fchdir, 49, .nargs = 1)
