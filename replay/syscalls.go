package replay

import (
	"context"
	"fmt"

	"github.com/peregrine-sec/peregrine/agent"
	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/runtime"
)

// replaySyscalls evaluates the events of capture files as the agent would
// have when it recorded them.
func replaySyscalls(ctx context.Context, set *rules.Set, f output.Format, o Options) error {
	c := config.Default()
	if o.MatchAll {
		c.RuleMatching = "all"
	}
	e, err := agent.NewEngine(set, c, runtime.Source{})
	if err != nil {
		return err
	}
	var scratch []*engine.Rule[runtime.Event]
	var werr error
	publish := func(a *output.Alert) {
		if _, err := o.Out.Write(a.Line(f)); err != nil && werr == nil {
			werr = fmt.Errorf("write alert: %w", err)
		}
	}
	for _, name := range o.SyscallFiles {
		r, done, err := open(name, o)
		if err != nil {
			return err
		}
		err = runtime.ReadCapture(r, func(ev *runtime.Event) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			scratch = agent.Evaluate(e, ev, o.Hostname, scratch[:0], publish)
			return werr
		}, func(line int, err error) {
			fmt.Fprintf(o.Err, "peregrine: %s: line %d: %v (skipped)\n", name, line, err)
		})
		done()
		if err != nil {
			return err
		}
	}
	return nil
}
