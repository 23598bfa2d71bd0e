package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/peregrine-sec/peregrine/output"
	"github.com/peregrine-sec/peregrine/policies/rules"
	"github.com/peregrine-sec/peregrine/webhook"
)

// replayAdmission decides every AdmissionReview of the files and prints,
// per request, {"decision": {...}} and then its alerts, as gator does for
// Gatekeeper users.
func replayAdmission(ctx context.Context, set *rules.Set, f output.Format, o Options) error {
	policy := o.Admission
	if policy.Mode == "" {
		policy.Mode = webhook.Enforce
	}
	d, err := webhook.NewDecider(set, policy, rules.Debug, o.Hostname)
	if err != nil {
		return fmt.Errorf("compile admission rules: %w", err)
	}
	for _, name := range o.AdmissionFiles {
		r, done, err := open(name, o)
		if err != nil {
			return err
		}
		err = eachReview(r, func(line int, body []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return decideOne(d, name, line, body, f, o)
		})
		done()
		if err != nil {
			return err
		}
	}
	return nil
}

func decideOne(d *webhook.Decider, name string, line int, body []byte, f output.Format, o Options) error {
	rev, err := webhook.DecodeReview(body)
	var req *webhook.Request
	if err == nil {
		req, err = webhook.NewRequest(rev.Request, time.Now())
	}
	if err != nil {
		fmt.Fprintf(o.Err, "peregrine: %s: line %d: %v (skipped)\n", name, line, err)
		return nil
	}
	dec := d.Decide(req, time.Now())
	b, _ := json.Marshal(map[string]*webhook.Decision{"decision": dec})
	if _, err := o.Out.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write decision: %w", err)
	}
	for _, a := range dec.Alerts {
		if _, err := o.Out.Write(a.Line(f)); err != nil {
			return fmt.Errorf("write alert: %w", err)
		}
	}
	return nil
}

// eachReview yields a single JSON document, or each line of JSON lines.
func eachReview(r io.Reader, fn func(line int, body []byte) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if json.Valid(bytes.TrimSpace(data)) {
		return fn(1, data)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			if err := fn(n, line); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
