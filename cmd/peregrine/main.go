// Command peregrine is Peregrine's single binary: the service (serve), the
// node agent (agent), both on one machine (run), offline replay, the rule
// tooling (rules validate, list, fields...), and what installing on a
// cluster needs (audit-config, selftest, version). Each command is a thin
// wrapper: it reads flags and configuration, then calls its package's
// Run(ctx, opts).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/peregrine-sec/peregrine/policies/inspect"
)

func main() {
	gin.SetMode(gin.ReleaseMode) // no debug banner; the process-wide switch gin offers
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	var exit *inspect.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.Code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "peregrine:", err)
		os.Exit(2)
	}
}
