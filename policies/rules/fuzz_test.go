package rules

import (
	"testing"

	"github.com/peregrine-sec/peregrine/policies/condition"
)

// FuzzLoad checks that the loader never panics on any input, that a
// failed load says why, and that every compiled rule has a condition whose
// printed form parses.
func FuzzLoad(f *testing.F) {
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
