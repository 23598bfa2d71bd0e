// Command subreaper makes itself a child subreaper, runs a shell that
// starts another in the background and exits at once, and stays until the
// orphan, which it has adopted, is done: the orphan's parent is then this
// process, not init.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
		os.Exit(1)
	}
	// The inner shell starts while the outer one runs (so its exec names
	// the outer one as parent), outlives it, and reads a file after it is
	// gone, from a child of its own: that child's grandparent is then
	// whoever adopted the inner shell.
	cmd := exec.Command("/bin/sh", "-c", `/bin/sh -c "sleep 0.6; cat /etc/hostname >/dev/null; true" & sleep 0.2; exit 0`)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err, string(out))
		os.Exit(1)
	}
	time.Sleep(1500 * time.Millisecond)
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err != nil {
			return
		}
	}
}
