package inspect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/peregrine-sec/peregrine/policies/condition"
)

// ParseOptions configure Parse.
type ParseOptions struct {
	Conditions []string // "-" reads one condition per line from In
	Format     string   // text or json
	In         io.Reader
	Out        io.Writer
}

// ParseResult is the JSON form of one parsed condition.
type ParseResult struct {
	Condition string         `json:"condition"`
	OK        bool           `json:"ok"`
	AST       string         `json:"ast,omitempty"`
	Error     string         `json:"error,omitempty"`
	Position  *condition.Pos `json:"position,omitempty"`
}

// Parse checks the syntax of conditions and prints each one's AST in
// libsinsp's printed form, or its error with the position. It returns
// ErrInvalid when any condition does not parse.
func Parse(o ParseOptions) error {
	conds, err := conditions(o)
	if err != nil {
		return err
	}
	failed := false
	enc := json.NewEncoder(o.Out)
	for _, c := range conds {
		r := ParseResult{Condition: c, OK: true}
		if e, err := condition.Parse(c); err != nil {
			se := err.(*condition.SyntaxError)
			r = ParseResult{Condition: c, Error: se.Msg, Position: &se.Pos}
			failed = true
		} else {
			r.AST = condition.String(e)
		}
		if err := writeParse(o, enc, r); err != nil {
			return err
		}
	}
	if failed {
		return ErrInvalid
	}
	return nil
}

func writeParse(o ParseOptions, enc *json.Encoder, r ParseResult) error {
	switch o.Format {
	case "json":
		return enc.Encode(r)
	case "", "text":
		if r.OK {
			_, err := fmt.Fprintln(o.Out, r.AST)
			return err
		}
		_, err := fmt.Fprintf(o.Out, "%d:%d: %s\n  %s\n  %*s^\n", r.Position.Line, r.Position.Column, r.Error,
			r.Condition, r.Position.Column-1, "")
		return err
	}
	return fmt.Errorf("unknown format %q (want text or json)", o.Format)
}

func conditions(o ParseOptions) ([]string, error) {
	var out []string
	for _, c := range o.Conditions {
		if c != "-" {
			out = append(out, c)
			continue
		}
		sc := bufio.NewScanner(o.In)
		sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read conditions: %w", err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no condition given (pass conditions as arguments, or - to read them from stdin)")
	}
	return out, nil
}
