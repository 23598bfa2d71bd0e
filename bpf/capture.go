package bpf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
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
	KindConnect = 5
)

// Syscall numbers of Records (Peregrine's, not the kernel's).
const (
	SysOpen    = 1
	SysOpenat  = 2
	SysOpenat2 = 3
	SysCreat   = 4
	SysConnect = 5
)

// syscalls the program can capture, by Falco event type name; each has a
// sys_enter_<name> and a sys_exit_<name> program.
var syscalls = []string{"open", "openat", "openat2", "creat", "connect"}

// Supported reports whether a syscall event type can be captured.
func Supported(evttype string) bool { return slices.Contains(syscalls, evttype) }

// Options configure Load.
type Options struct {
	// Syscalls to capture, by event type name; process lifecycle (exec,
	// fork, exit) is always captured.
	Syscalls []string
	// RingBytes sizes the ring buffer (a power of two; default 16 MiB).
	RingBytes uint32
	// WakeupBytes batches reader wake-ups (default 256 KiB); the reader
	// also polls every FlushEvery, so no record waits longer than that.
	WakeupBytes uint64
	FlushEvery  time.Duration
	Log         *slog.Logger
}

// Capture is the loaded and attached program.
type Capture struct {
	objs  captureObjects
	links []link.Link
	rd    *ringbuf.Reader
	opts  Options
}

// Load loads the program, attaching only what opts asks for.
func Load(opts Options) (*Capture, error) {
	if opts.RingBytes == 0 {
		opts.RingBytes = 1 << 24
	}
	if opts.WakeupBytes == 0 {
		opts.WakeupBytes = 256 << 10
	}
	if opts.FlushEvery == 0 {
		opts.FlushEvery = 50 * time.Millisecond
	}
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
	spec.Maps["events"].MaxEntries = opts.RingBytes
	if err := spec.Variables["self_tgid"].Set(uint32(os.Getpid())); err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	if err := spec.Variables["wakeup_bytes"].Set(opts.WakeupBytes); err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	c := &Capture{opts: opts}
	if err := spec.LoadAndAssign(&c.objs, nil); err != nil {
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
	if c.rd, err = ringbuf.NewReader(c.objs.Events); err != nil {
		c.Close()
		return nil, fmt.Errorf("bpf: ring buffer: %w", err)
	}
	return c, nil
}

func (c *Capture) attach() error {
	progs := map[string][2]*ebpf.Program{
		"open":    {c.objs.EnterOpen, c.objs.ExitOpen},
		"openat":  {c.objs.EnterOpenat, c.objs.ExitOpenat},
		"openat2": {c.objs.EnterOpenat2, c.objs.ExitOpenat2},
		"creat":   {c.objs.EnterCreat, c.objs.ExitCreat},
		"connect": {c.objs.EnterConnect, c.objs.ExitConnect},
	}
	add := func(l link.Link, err error) error {
		if err != nil {
			return fmt.Errorf("bpf: attach: %w", err)
		}
		c.links = append(c.links, l)
		return nil
	}
	if err := add(link.Tracepoint("sched", "sched_process_exec", c.objs.OnExec, nil)); err != nil {
		return err
	}
	if err := add(link.AttachTracing(link.TracingOptions{Program: c.objs.OnFork})); err != nil {
		return err
	}
	if err := add(link.AttachTracing(link.TracingOptions{Program: c.objs.OnExit})); err != nil {
		return err
	}
	for _, sc := range c.opts.Syscalls {
		pair, ok := progs[sc]
		if !ok {
			continue
		}
		if err := add(link.Tracepoint("syscalls", "sys_enter_"+sc, pair[0], nil)); err != nil {
			return err
		}
		if err := add(link.Tracepoint("syscalls", "sys_exit_"+sc, pair[1], nil)); err != nil {
			return err
		}
	}
	return nil
}

// shortRecord is the size of records without argv (all but exec).
const shortRecord = int(unsafe.Offsetof(Record{}.Args))

// Run hands every record to fn until ctx ends, then drains what is left.
// fn must not keep the record: it is reused.
func (c *Capture) Run(ctx context.Context, fn func(*Record)) error {
	var rec ringbuf.Record
	var short Record // short records are copied here: their argv stays empty
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		c.rd.Flush() // wake the reader for the records sent without a wake-up
		close(done)
	}()
	for {
		c.rd.SetDeadline(time.Now().Add(c.opts.FlushEvery))
		err := c.rd.ReadInto(&rec)
		switch {
		case err == nil:
			switch n := len(rec.RawSample); {
			case n >= int(unsafe.Sizeof(Record{})):
				fn((*Record)(unsafe.Pointer(&rec.RawSample[0])))
			case n >= shortRecord:
				copy(unsafe.Slice((*byte)(unsafe.Pointer(&short)), shortRecord), rec.RawSample)
				short.ArgsLen = 0
				fn(&short)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			select {
			case <-done:
				return nil
			default:
			}
		case errors.Is(err, ringbuf.ErrFlushed):
			return nil
		case errors.Is(err, ringbuf.ErrClosed):
			return nil
		default:
			return fmt.Errorf("bpf: read: %w", err)
		}
	}
}

// Counters are what the kernel side counted.
type Counters struct {
	Sent, Dropped, ReadFailures uint64
}

// Counters sums the per-CPU counters.
func (c *Capture) Counters() (Counters, error) {
	var out Counters
	for i, dst := range []*uint64{&out.Sent, &out.Dropped, &out.ReadFailures} {
		var vals []uint64
		if err := c.objs.Counters.Lookup(uint32(i), &vals); err != nil {
			return out, fmt.Errorf("bpf: counters: %w", err)
		}
		for _, v := range vals {
			*dst += v
		}
	}
	return out, nil
}

// Close detaches and frees everything.
func (c *Capture) Close() error {
	for _, l := range c.links {
		l.Close()
	}
	if c.rd != nil {
		c.rd.Close()
	}
	return c.objs.Close()
}
