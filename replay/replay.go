package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/peregrine-sec/peregrine/audit"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/inspect"
	"github.com/peregrine-sec/peregrine/webhook"
)

// Options configure Run.
type Options struct {
	RulesFiles []string // none: the built-in rules
	AuditFiles []string // "-" is standard input
	// AdmissionFiles hold AdmissionReview requests (JSON or JSON lines).
	AdmissionFiles []string
	// SyscallFiles are capture files of peregrine agent --record.
	SyscallFiles []string
	// Admission is the policy admission decisions apply.
	Admission webhook.Policy
	Format    string // json (default) or text
	MatchAll  bool   // every matching rule, not only the first
	Hostname  string
	In        io.Reader
	Out, Err  io.Writer
}

// Run evaluates the events of every file and writes one alert per line.
// A malformed input line is reported on Err with its file and line and
// skipped; the rest is still evaluated.
func Run(ctx context.Context, o Options) (err error) {
	// One write per 64 KiB, not per alert: a write(2) each cost as much
	// as evaluating the event. Err stays unbuffered, so a warning about
	// a line still comes when the line is read.
	out := bufio.NewWriterSize(o.Out, 64<<10)
	defer func() {
		if ferr := out.Flush(); err == nil && ferr != nil {
			err = ferr
		}
	}()
	o.Out = out
	set, err := inspect.LoadValid(o.RulesFiles)
	if err != nil {
		return err
	}
	opts := engine.DefaultOptions()
	opts.MatchAll = o.MatchAll
	ev, err := audit.NewEvaluator(set, opts, o.Hostname)
	if err != nil {
		return fmt.Errorf("compile rules: %w", err)
	}
	format, err := formatOf(o.Format)
	if err != nil {
		return err
	}
	for _, name := range o.AuditFiles {
		if err := replayFile(ctx, ev, name, format, o); err != nil {
			return err
		}
	}
	if len(o.AdmissionFiles) > 0 {
		if err := replayAdmission(ctx, set, format, o); err != nil {
			return err
		}
	}
	if len(o.SyscallFiles) > 0 {
		return replaySyscalls(ctx, set, format, o)
	}
	return nil
}

func formatOf(name string) (output.Format, error) {
	f := output.DefaultFormat()
	switch name {
	case "", "json":
	case "text":
		f.JSON = false
	default:
		return f, fmt.Errorf("unknown format %q (want json or text)", name)
	}
	return f, nil
}

// open returns the named input, "-" being standard input.
func open(name string, o Options) (io.Reader, func(), error) {
	if name == "-" {
		return o.In, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: %w", err)
	}
	return f, func() { f.Close() }, nil
}

func replayFile(ctx context.Context, ev *audit.Evaluator, name string, f output.Format, o Options) error {
	r, done, err := open(name, o)
	if err != nil {
		return err
	}
	defer done()
	var alerts []*output.Alert
	var n uint64
	bad := func(err error) { fmt.Fprintf(o.Err, "peregrine: %s: %v (skipped)\n", name, err) }
	return audit.Stream(r, func(e *audit.Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		e.Num = n
		alerts = ev.Evaluate(e, alerts[:0])
		for _, a := range alerts {
			if _, err := o.Out.Write(a.Line(f)); err != nil {
				return fmt.Errorf("write alert: %w", err)
			}
		}
		return nil
	}, bad)
}
