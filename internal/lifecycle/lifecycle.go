package lifecycle

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"
)

// Runnable is a long-running part. Start runs it until ctx ends and then
// returns nil; an error means it failed, which stops its whole process.
type Runnable interface {
	Start(ctx context.Context) error
}

// Func is a Runnable that can fail.
type Func func(ctx context.Context) error

// Start implements Runnable.
func (f Func) Start(ctx context.Context) error { return f(ctx) }

// Loop is a Runnable that cannot fail: it runs until ctx ends.
type Loop func(ctx context.Context)

// Start implements Runnable.
func (f Loop) Start(ctx context.Context) error {
	f(ctx)
	return nil
}

// Stage is runnables started together and stopped together.
type Stage []Runnable

// Run runs the stages nested, the first outermost, and returns once every
// member of every stage has returned: with nil when ctx ended, else with
// what failed. The innermost stage is stopped by ctx or by the failure of
// any member of any stage; every other stage is stopped only once the
// stages inside it have all returned, so that what they still produce
// while stopping is taken in.
func Run(ctx context.Context, stages ...Stage) error {
	if len(stages) == 0 {
		return nil
	}
	if len(stages) == 1 {
		return start(ctx, stages[0]).Wait()
	}
	outerCtx, stopOuter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOuter()
	outer := start(outerCtx, stages[0])
	innerCtx, stopInner := context.WithCancel(ctx)
	defer stopInner()
	// A failure outside stops the inside too; ctx ending stops the inside only.
	defer context.AfterFunc(outer.ctx, stopInner)()
	innerErr := Run(innerCtx, stages[1:]...)
	stopOuter()
	return errors.Join(innerErr, outer.Wait())
}

// group is a started stage: its context ends when it is told to stop or
// when one of its members fails.
type group struct {
	*errgroup.Group
	ctx context.Context
}

func start(ctx context.Context, s Stage) group {
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range s {
		g.Go(func() error { return r.Start(gctx) })
	}
	return group{g, gctx}
}
