package bpf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

// Record is one event from the kernel, as the BPF program wrote it.
type Record = captureEvent

// Record kinds (enum kind in capture.bpf.c).
const (
	KindExec    = 1
	KindFork    = 2
	KindExit    = 3
	KindOpen    = 4
	KindSyscall = 6
)

// Syscall numbers of Records (Peregrine's, not the kernel's).
const (
	SysOpen     = 1
	SysOpenat   = 2
	SysOpenat2  = 3
	SysCreat    = 4
	SysExecve   = 7 // KindExec records: which call replaced the image
	SysExecveat = 8
)

// Numbers are the KindSyscall syscalls: the number each carries in
// Record.Syscall.
var Numbers = map[string]uint32{
	"connect": 5, "setuid": 10, "setgid": 11, "setresuid": 12, "setresgid": 13, "unlink": 14, "unlinkat": 15,
	"rename": 16, "renameat": 17, "renameat2": 18, "mkdir": 19, "mkdirat": 20, "rmdir": 21,
	"symlink": 22, "symlinkat": 23, "chmod": 24, "fchmodat": 25, "fchmod": 26, "ptrace": 27,
	"memfd_create": 28, "bpf": 29, "socket": 30, "unshare": 31, "setns": 32, "link": 33, "linkat": 34,
	"listen": 35, "dup": 36, "dup2": 37, "dup3": 38, "mount": 39, "umount2": 40, "init_module": 41,
	"finit_module": 42, "accept": 43, "accept4": 44, "bind": 45, "sendto": 46, "sendmsg": 47,
	"chdir": 48, "fchdir": 49,
}

// State are the syscalls captured whenever any syscall is: they keep the
// process table right (the working directory that relative paths are
// resolved against). They are rare, so they cost nothing measurable.
var State = []string{"chdir", "fchdir"}

// syscalls the program can capture, by Falco event type name; each has an
// exit_<name> program on its exit tracepoint.
var syscalls = func() []string {
	out := []string{"open", "openat", "openat2", "creat"}
	for name := range Numbers {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}()

// Syscalls lists the syscall event types the probe can capture.
func Syscalls() []string { return slices.Clone(syscalls) }

// Supported reports whether a syscall event type can be captured.
func Supported(evttype string) bool { return slices.Contains(syscalls, evttype) }

// Options configure Load.
type Options struct {
	// Syscalls to capture, by event type name; process lifecycle (exec,
	// fork, exit) is always captured.
	Syscalls []string
	// Execveat tells execveat from execve. It costs every syscall of every
	// process a check on the syscall enter path (measured: ~4% on an
	// open/close loop), so it is only for rules that tell the two apart;
	// otherwise every exec is reported as execve.
	Execveat bool
	// Env reads each exec's environment (proc.env): up to 2 KiB per exec.
	Env bool
	// RingBytes sizes the ring buffer (a power of two; default 16 MiB).
	RingBytes uint32
	// WakeupEvery batches reader wake-ups: a CPU wakes the reader once
	// per this many records (default 512); the reader also polls every
	// FlushEvery (default 10ms), so no record waits longer than that.
	WakeupEvery uint32
	FlushEvery  time.Duration
	Log         *slog.Logger
}

// Capture is the loaded and attached program.
type Capture struct {
	coll  *ebpf.Collection
	links []link.Link
	rd    *ringbuf.Reader
	opts  Options
	// received counts the records read; the kernel counts only what it
	// could not send, which spares each record a map update.
	received atomic.Uint64
}

// Load loads the program, attaching only what opts asks for.
func Load(opts Options) (*Capture, error) {
	opts = opts.withDefaults()
	if err := ensureTracefs(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("bpf: memlock: %w", err)
	}
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("bpf: load spec: %w", err)
	}
	opts.Syscalls = withState(opts.Syscalls)
	if err := configure(spec, opts); err != nil {
		return nil, err
	}
	c := &Capture{opts: opts}
	if c.coll, err = ebpf.NewCollection(spec); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("bpf: verifier: %+v", ve)
		}
		return nil, fmt.Errorf("bpf: load: %w", err)
	}
	if err := c.attach(); err != nil {
		c.Close()
		return nil, err
	}
	if c.rd, err = ringbuf.NewReader(c.coll.Maps["events"]); err != nil {
		c.Close()
		return nil, fmt.Errorf("bpf: ring buffer: %w", err)
	}
	return c, nil
}

func (o Options) withDefaults() Options {
	if o.RingBytes == 0 {
		o.RingBytes = 1 << 24
	}
	if o.WakeupEvery == 0 {
		o.WakeupEvery = 512
	}
	if o.FlushEvery == 0 {
		o.FlushEvery = 10 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// configure sizes the ring buffer, sets the program's constants, and
// keeps only the programs that will be attached, so that the others are
// not loaded (nor verified) at all.
func configure(spec *ebpf.CollectionSpec, opts Options) error {
	spec.Maps["events"].MaxEntries = opts.RingBytes
	// Without bpf_loop (before Linux 5.17) the probe leaves executables'
	// paths to user space; the branch that calls it is then never taken,
	// and the verifier does not look at it.
	haveLoop := features.HaveProgramHelper(ebpf.TracePoint, asm.FnLoop) == nil
	for name, v := range map[string]any{"self_tgid": uint32(os.Getpid()), "wakeup_every": opts.WakeupEvery,
		"capture_env": opts.Env, "have_loop": haveLoop} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("bpf: set %s: %w", name, err)
		}
	}
	want := map[string]bool{"on_exec": true, "on_fork": true, "on_exit": true,
		"enter_execveat": opts.Execveat, "exit_execveat": opts.Execveat}
	for _, sc := range opts.Syscalls {
		want["exit_"+sc] = true
	}
	for name := range spec.Programs {
		if !want[name] {
			delete(spec.Programs, name)
		}
	}
	return nil
}

func (c *Capture) attach() error {
	progs := c.coll.Programs
	add := func(l link.Link, err error) error {
		if err != nil {
			return fmt.Errorf("bpf: attach: %w", err)
		}
		c.links = append(c.links, l)
		return nil
	}
	if err := add(link.Tracepoint("sched", "sched_process_exec", progs["on_exec"], nil)); err != nil {
		return err
	}
	if err := add(link.AttachTracing(link.TracingOptions{Program: progs["on_fork"]})); err != nil {
		return err
	}
	if err := add(link.AttachTracing(link.TracingOptions{Program: progs["on_exit"]})); err != nil {
		return err
	}
	for _, dir := range []string{"enter", "exit"} {
		if !c.opts.Execveat {
			break
		}
		if err := add(link.Tracepoint("syscalls", "sys_"+dir+"_execveat", progs[dir+"_execveat"], nil)); err != nil {
			return err
		}
	}
	for _, sc := range c.opts.Syscalls {
		prog := progs["exit_"+sc]
		if prog == nil {
			continue
		}
		l, err := link.Tracepoint("syscalls", "sys_exit_"+tracepointOf(sc), prog, nil)
		if errors.Is(err, os.ErrNotExist) {
			// Not in this kernel (init_module without CONFIG_MODULES): the
			// call cannot happen, so there is nothing to miss.
			c.opts.Log.Info("syscall not in this kernel, not captured", "syscall", sc)
			continue
		}
		if err := add(l, err); err != nil {
			return err
		}
	}
	return nil
}

// withState adds the state syscalls to what the rules asked for: they
// only matter to resolve the paths of captured syscalls, so rules that need
// none (exec only) attach no syscall tracepoint at all, and no process
// pays the kernel's syscall-tracing path.
func withState(asked []string) []string {
	if len(asked) == 0 {
		return nil
	}
	out := slices.Clone(asked)
	for _, sc := range State {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// tracepointOf names the syscall tracepoint of a Falco event type: the
// kernel's name where the two differ.
func tracepointOf(evttype string) string {
	if evttype == "umount2" {
		return "umount"
	}
	return evttype
}

// Record sizes (the sections of struct event): opens, other syscalls and
// lifecycle, syscalls with several strings, execs.
const (
	openRecord  = int(unsafe.Offsetof(Record{}.Nums))
	shortRecord = int(unsafe.Offsetof(Record{}.Args))
	argsRecord  = int(unsafe.Offsetof(Record{}.Env))
	fullRecord  = int(unsafe.Sizeof(Record{}))
)

// Run hands every record to fn until ctx ends, then drains what is left.
// fn must not keep the record: it is reused.
func (c *Capture) Run(ctx context.Context, fn func(*Record)) error {
	var rec ringbuf.Record
	var part Record // shorter records are copied here, the rest cleared
	done := make(chan struct{})
	// When ctx ends, wake the reader for the records sent without a
	// wake-up; a Run that ends first (an error) cancels that.
	defer context.AfterFunc(ctx, func() {
		c.rd.Flush()
		close(done)
	})()
	for {
		c.rd.SetDeadline(time.Now().Add(c.opts.FlushEvery))
		err := c.rd.ReadInto(&rec)
		switch {
		case err == nil:
			if r := decode(rec.RawSample, &part); r != nil {
				c.received.Add(1)
				fn(r)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			select {
			case <-done:
				return nil
			default:
			}
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed):
			return nil
		default:
			return fmt.Errorf("bpf: read: %w", err)
		}
	}
}

// decode returns the record in raw: in place when it is whole, else copied
// into part with the sections it does not carry cleared.
func decode(raw []byte, part *Record) *Record {
	n := len(raw)
	switch {
	case n >= fullRecord:
		return (*Record)(unsafe.Pointer(&raw[0]))
	case n >= argsRecord:
		n = argsRecord
	case n >= shortRecord:
		n = shortRecord
	case n >= openRecord:
		n = openRecord
	default:
		return nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(part)), argsRecord)
	copy(b, raw[:n])
	clear(b[n:])
	part.ArgsLen, part.EnvLen = 0, 0 // what the copy holds of them is not theirs
	return part
}

// Counters are what the probe sent and what it lost.
type Counters struct {
	Sent, Dropped, ReadFailures uint64
}

// Counters reads the records received and sums the kernel's per-CPU
// counters of losses.
func (c *Capture) Counters() (Counters, error) {
	out := Counters{Sent: c.received.Load()}
	for i, dst := range map[uint32]*uint64{1: &out.Dropped, 2: &out.ReadFailures} {
		var vals []uint64
		if err := c.coll.Maps["counters"].Lookup(i, &vals); err != nil {
			return out, fmt.Errorf("bpf: counters: %w", err)
		}
		for _, v := range vals {
			*dst += v
		}
	}
	return out, nil
}

// Close detaches the probes and frees the maps and the ring buffer. Call
// it once Run has returned: a Run still reading would end at once, with
// the records not yet read lost.
func (c *Capture) Close() error {
	for _, l := range c.links {
		l.Close()
	}
	if c.rd != nil {
		c.rd.Close()
	}
	if c.coll != nil {
		c.coll.Close()
	}
	return nil
}
