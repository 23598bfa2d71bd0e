// Command peregrine is Peregrine's single binary: rule tooling today, the
// audit and admission service and the node agent as they land.
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
