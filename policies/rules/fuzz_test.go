package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/condition"
)

// FuzzLoad checks that the loader never panics on any input, that a
// failed load says why, and that every compiled rule has a condition whose
// printed form parses. Its seeds: the built-in rules
// (testdata/fuzz/FuzzLoad), and every rule file of the conformance corpus
// and every rules snippet of its loader and validation cases (read where
// they lie, not copied here).
func FuzzLoad(f *testing.F) {
	for _, content := range corpusRules(conformance.Dir(f)) {
		f.Add(content)
	}
	f.Add("- list: l\n  items: [a, b]\n- macro: m\n  condition: proc.name in (l)\n- rule: r\n  desc: d\n  condition: evt.type = open and m\n  output: \"%proc.name\"\n  priority: INFO\n")
	f.Add("- rule: r\n  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[x]]\n  override:\n    exceptions: append\n")
	f.Add("this : is : not : yaml")
	f.Add("- required_engine_version: 9\n- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n")
	f.Fuzz(func(t *testing.T, content string) {
		l := newTestLoader()
		res := l.Load("fuzz.yaml", content)
		if !res.Successful && len(res.Errors) == 0 {
			t.Fatal("unsuccessful load without an error")
		}
		for _, r := range l.Set().Rules {
			if _, err := condition.ParseDepth(condition.String(r.Condition), maxConditionDepth*4); err != nil {
				t.Fatalf("rule %q: printed condition does not parse: %v", r.Name, err)
			}
		}
	})
}

// corpusRules are the rule files and snippets of the conformance corpus.
func corpusRules(dir string) []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yaml"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, string(b))
		}
	}
	var loader struct {
		Cases []struct{ Steps []loaderStep }
	}
	var validation struct {
		Rules map[string]struct{ YAML string }
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loader_cases.json")); err == nil && json.Unmarshal(b, &loader) == nil {
		for _, c := range loader.Cases {
			for _, st := range c.Steps {
				out = append(out, st.RulesYAML)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "validation_cases.json")); err == nil && json.Unmarshal(b, &validation) == nil {
		for _, r := range validation.Rules {
			out = append(out, r.YAML)
		}
	}
	return out
}

// BenchmarkLoadUpstream measures loading and compiling every upstream
// rule file.
func BenchmarkLoadUpstream(b *testing.B) {
	contents := map[string]string{}
	for _, g := range upstreamFiles {
		for _, name := range g {
			contents[name] = readUpstream(b, name)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, g := range upstreamFiles {
			l := newTestLoader()
			for _, name := range g {
				if res := l.Load(name, contents[name]); !res.Successful {
					b.Fatal(res.Errors)
				}
			}
		}
	}
}
