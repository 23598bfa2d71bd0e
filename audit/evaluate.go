package audit

import (
	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Evaluator runs the k8s_audit rules on events and turns matches into
// alerts. It is not safe for concurrent use: give each worker its own.
type Evaluator struct {
	engine   *engine.Engine[Event]
	hostname string
	matches  []*engine.Rule[Event]
}

// NewEvaluator compiles the k8s_audit rules of set.
func NewEvaluator(set *rules.Set, opts engine.Options, hostname string) (*Evaluator, error) {
	e, err := engine.New[Event](&Source{}, fields.K8sAudit(), set, opts)
	if err != nil {
		return nil, err
	}
	return &Evaluator{engine: e, hostname: hostname}, nil
}

// Rules returns the compiled rules.
func (ev *Evaluator) Rules() []*engine.Rule[Event] { return ev.engine.Rules() }

// Evaluate appends to out an alert for each rule e matches. Alert times
// are the event's stageTimestamp.
func (ev *Evaluator) Evaluate(e *Event, out []*output.Alert) []*output.Alert {
	ev.matches = ev.engine.Match(e, ev.matches[:0])
	for _, r := range ev.matches {
		out = append(out, output.Matched(r, e, fields.SourceK8sAudit, ev.hostname, e.Time()))
	}
	return out
}
