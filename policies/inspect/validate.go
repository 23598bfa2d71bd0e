package inspect

import (
	"fmt"
	"io"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

// ValidateOptions configure Validate.
type ValidateOptions struct {
	Paths  []string
	Format string // text or json
	Out    io.Writer
}

// Validate loads the files and reports every problem, like `falco -V`. It
// returns ErrInvalid when any file has errors.
func Validate(o ValidateOptions) error {
	results, _ := Load(o.Paths)
	var err error
	switch o.Format {
	case "json":
		err = rules.WriteJSON(o.Out, results)
	case "", "text":
		err = rules.WriteText(o.Out, results)
	default:
		return fmt.Errorf("unknown format %q (want text or json)", o.Format)
	}
	if err != nil {
		return err
	}
	for _, r := range results {
		if !r.Successful {
			return ErrInvalid
		}
	}
	return nil
}
