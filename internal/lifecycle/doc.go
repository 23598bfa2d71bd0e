// Package lifecycle owns how Peregrine's long-running parts start and stop:
// every goroutine that outlives a function call belongs to a Runnable, and
// every Runnable to a stage that starts it and waits for it.
//
// A process is a list of stages, outermost first. The innermost stage runs
// until the process's context ends or one of its members fails; then each
// stage is stopped only after every stage inside it has returned. That is
// how the service drains: listeners stop, then the workers finish the
// queue, then the outputs deliver what the workers raised.
package lifecycle
