package bpf

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ensureTracefs mounts tracefs at /sys/kernel/tracing when neither it nor
// debugfs is mounted: tracepoint attachment looks event ids up there, and
// minimal hosts and containers often lack the mount.
func ensureTracefs() error {
	for _, p := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, "")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("bpf: tracefs is not mounted and mounting it failed: %w", err)
	}
	return nil
}
