package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/peregrine-sec/peregrine/policies"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// ExitError asks the command to exit with Code after printing its output.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrInvalid is returned (wrapped in ExitError semantics) when rules do not load.
var ErrInvalid = &ExitError{Code: 1}

// Catalogs returns the field catalogues of every source rules may use.
func Catalogs() []*fields.Catalog {
	return []*fields.Catalog{fields.Syscall(), fields.K8sAudit(), fields.K8sAdmission()}
}

// ruleFile is one file to load, in order; err is why it could not be read.
type ruleFile struct {
	name, content string
	err           error
}

// expand turns paths into files: a directory contributes its .yaml and .yml
// files in name order, as Falco reads rules_files. No path means the
// embedded default rules. A path that cannot be read becomes a file with
// an error, reported like Falco's LOAD_ERR_FILE_READ.
func expand(paths []string) []ruleFile {
	if len(paths) == 0 {
		return []ruleFile{{name: policies.DefaultRulesName, content: policies.DefaultRules}}
	}
	var out []ruleFile
	for _, p := range paths {
		files, err := filesOf(p)
		if err != nil {
			out = append(out, ruleFile{name: p, err: err})
			continue
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			out = append(out, ruleFile{name: f, content: string(b), err: err})
		}
	}
	return out
}

func filesOf(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// Load loads rule files in order and returns each file's result and the
// compiled rule set.
func Load(paths []string) ([]*rules.Result, *rules.Set) {
	l := rules.NewLoader(Catalogs()...)
	var results []*rules.Result
	for _, f := range expand(paths) {
		if f.err != nil {
			results = append(results, rules.FileReadError(f.name, f.err))
			continue
		}
		results = append(results, l.Load(f.name, f.content))
	}
	return results, l.Set()
}

// LoadValid loads rules and fails with the validation report when any
// file has errors.
func LoadValid(paths []string) (*rules.Set, error) {
	results, set := Load(paths)
	var errs []error
	for _, r := range results {
		for _, is := range r.Errors {
			errs = append(errs, fmt.Errorf("%s: %s", r.Name, is.Message))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid rules (run 'peregrine rules validate' for details): %w", errors.Join(errs...))
	}
	return set, nil
}
