package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/peregrine-sec/peregrine/internal/lifecycle"
)

// endpoint is a bound listener and the HTTP server that answers on it.
type endpoint struct {
	name     string
	ln       net.Listener
	srv      *http.Server
	stopping func() // when set, called before the server shuts down
	// drain, when set, runs after stopping and before the server shuts
	// down, the listener still answering: the audit endpoint refuses new
	// batches with 503 (stopping closed its queue) while the accepted ones
	// are delivered, instead of refusing connections.
	drain   func(ctx context.Context)
	stopped func() // when set, called once it has
}

// listen binds addr, with TLS when cfg is set.
func listen(addr string, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if cfg == nil {
		return ln, nil
	}
	return tls.NewListener(ln, cfg), nil
}

// newEndpoint serves h on ln.
func newEndpoint(name string, ln net.Listener, h http.Handler) *endpoint {
	return &endpoint{name: name, ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
}

// newRouter is a router that recovers from a handler's panic with a 500.
func newRouter() *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	return r
}

// shutdownGrace bounds how long a stopping listener waits for the requests
// in flight.
const shutdownGrace = 10 * time.Second

// Start serves until ctx ends, then shuts down gracefully: no new
// connections, the requests in flight answered.
func (e *endpoint) Start(ctx context.Context) error {
	return lifecycle.Run(ctx, lifecycle.Stage{
		lifecycle.Func(func(context.Context) error {
			if err := e.srv.Serve(e.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve %s: %w", e.name, err)
			}
			return nil
		}),
		lifecycle.Loop(func(ctx context.Context) {
			<-ctx.Done()
			if e.stopping != nil {
				e.stopping()
			}
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			if e.drain != nil {
				e.drain(shutdownCtx)
			}
			if e.srv.Shutdown(shutdownCtx) != nil {
				e.srv.Close() // past the grace period: cut what is left
			}
			if e.stopped != nil {
				e.stopped()
			}
		}),
	})
}
