package webhook

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// Mode is how a rule's action is carried out.
type Mode string

// Modes, from strictest: enforce denies and warns as the rules say; warn
// turns denials into warnings; audit only raises alerts.
const (
	Enforce Mode = "enforce"
	Warn    Mode = "warn"
	Audit   Mode = "audit"
)

// ParseMode validates a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Enforce, Warn, Audit:
		return m, nil
	}
	return "", fmt.Errorf("admission mode %q: want enforce, warn or audit", s)
}

// Policy says which mode applies where.
type Policy struct {
	Mode           Mode
	NamespaceModes map[string]Mode
	// Exempt namespaces are always admitted, without evaluation.
	Exempt []string
}

func (p Policy) modeFor(ns string) Mode {
	if m, ok := p.NamespaceModes[ns]; ok {
		return m
	}
	return p.Mode
}

// Decision is the answer to one request.
type Decision struct {
	UID      string   `json:"uid"`
	Allowed  bool     `json:"allowed"`
	Rule     string   `json:"rule"`
	Message  string   `json:"message"`
	Warnings []string `json:"warnings"`
	// ID is Peregrine's id of the request (auditAnnotations request-id).
	ID     string          `json:"-"`
	Alerts []*output.Alert `json:"-"`
}

// Limits the apiserver puts on warnings: longer ones are truncated or
// dropped, so Peregrine shortens them itself and says so.
const (
	maxWarning      = 256
	maxWarningTotal = 4096
)

// Decider evaluates k8s_admission rules. Not safe for concurrent use.
type Decider struct {
	engine   *engine.Engine[Request]
	policy   Policy
	hostname string
	matches  []*engine.Rule[Request]
}

// NewDecider compiles the k8s_admission rules of set.
func NewDecider(set *rules.Set, policy Policy, minPriority rules.Priority, hostname string) (*Decider, error) {
	opts := engine.DefaultOptions()
	opts.MinPriority, opts.MatchAll = minPriority, true // every rule may deny, warn or alert
	e, err := engine.New[Request](&Source{}, fields.K8sAdmission(), set, opts)
	if err != nil {
		return nil, err
	}
	return &Decider{engine: e, policy: policy, hostname: hostname}, nil
}

// Rules returns the compiled rules.
func (d *Decider) Rules() []*engine.Rule[Request] { return d.engine.Rules() }

// Decide evaluates r and returns the decision and its alerts.
func (d *Decider) Decide(r *Request, now time.Time) *Decision {
	dec := &Decision{UID: string(r.Req.UID), Allowed: true, ID: r.ID, Warnings: []string{}}
	if slices.Contains(d.policy.Exempt, r.Req.Namespace) {
		return dec
	}
	mode := d.policy.modeFor(r.Req.Namespace)
	var denials []string
	d.matches = d.engine.Match(r, d.matches[:0])
	for _, m := range d.matches {
		a := output.Matched(m, r, fields.SourceK8sAdmission, d.hostname, now)
		msg, verdict := a.Message, verdictOf(m.Action, mode)
		switch verdict {
		case "deny":
			denials = append(denials, m.Name+": "+msg)
			if dec.Allowed { // the first denial names the decision
				dec.Rule = m.Name
			}
			dec.Allowed = false
		case "warn":
			dec.Warnings = append(dec.Warnings, m.Name+": "+msg)
			if dec.Rule == "" {
				dec.Rule = m.Name
			}
		}
		a.OutputFields["adm.verdict"], a.OutputFields["adm.mode"], a.OutputFields["adm.id"] = verdict, string(mode), r.ID
		dec.Alerts = append(dec.Alerts, a)
	}
	if !dec.Allowed {
		dec.Message = "denied by Peregrine: " + strings.Join(denials, "; ")
	}
	dec.Warnings = limitWarnings(dec.Warnings)
	return dec
}

// verdictOf applies the mode to a rule's action.
func verdictOf(action string, mode Mode) string {
	switch {
	case mode == Audit || action == "" || action == "allow":
		return "allow"
	case action == "deny" && mode == Enforce:
		return "deny"
	}
	return "warn"
}

// limitWarnings keeps warnings within what the apiserver passes on.
func limitWarnings(ws []string) []string {
	total := 0
	for i, w := range ws {
		if len(w) > maxWarning {
			w = w[:maxWarning-3] + "..."
			ws[i] = w
		}
		if total+len(w) > maxWarningTotal {
			rest := fmt.Sprintf("... and %d more Peregrine warnings", len(ws)-i)
			return append(ws[:i], rest)
		}
		total += len(w)
	}
	return ws
}
