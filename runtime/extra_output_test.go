package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/config"
	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// extraOutputCases is the append_output each of Falco's
// test_extra_output.cpp cases configures (its engine calls, written as
// falco.yaml would): the corpus carries their rules and expected outputs,
// not this.
var extraOutputCases = map[string][]string{
	"test_extra_output.cpp:extra_format_all": {`append_output=[{extra_output: "evt.type=%evt.type"}]`},
	"test_extra_output.cpp:extra_format_by_rule": {
		`append_output=[{match: {rule: legit_rule}, extra_output: "evt.type=%evt.type"}]`},
	"test_extra_output.cpp:extra_format_by_tag_rule": {`append_output=[{match: {tags: [tag1]}, extra_output: extra 1},
		{match: {rule: another_rule}, extra_output: extra 2}, {match: {tags: [tag1, tag2]}, extra_output: extra 3}]`},
}

// TestAppendOutputConformance: the loader cases of Falco's corpus that
// check a compiled output (append_output's), compiled with that
// configuration.
func TestAppendOutputConformance(t *testing.T) {
	var corpus struct {
		Cases []struct {
			Test  string `json:"test"`
			Steps []struct {
				RulesYAML      string            `json:"rules_yaml"`
				CompiledOutput map[string]string `json:"compiled_output"`
			} `json:"steps"`
		}
	}
	conformance.Load(t, "loader_cases.json", &corpus)
	ran := 0
	for _, c := range corpus.Cases {
		for _, st := range c.Steps {
			if len(st.CompiledOutput) == 0 {
				continue
			}
			ran++
			overrides, ok := extraOutputCases[c.Test]
			if !ok {
				t.Errorf("%s: no append_output for this case", c.Test)
				continue
			}
			if diff := cmp.Diff(st.CompiledOutput, compiledOutputs(t, st.RulesYAML, overrides)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.Test, diff)
			}
		}
	}
	if ran != 3 {
		t.Errorf("ran %d cases with a compiled output, want 3", ran)
	}
}

// compiledOutputs loads src, compiles it with the configuration overrides
// and returns each rule's output as compiled.
func compiledOutputs(t *testing.T, src string, overrides []string) map[string]string {
	l := rules.NewLoader(fields.Syscall())
	if res := l.Load("legit_rules.yaml", src); !res.Successful {
		t.Fatal(res.Errors)
	}
	cfg, err := config.Load("", overrides)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New[Event](Source{}, fields.Syscall(), l.Set(), cfg.EngineOptions())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range e.Rules() {
		got[r.Name] = r.OutputSpec()
	}
	return got
}

// TestExtraFields: append_output's extra_fields go to output_fields only:
// a field under its own name with its typed value, a name of one's own
// with its format rendered; the output text is the rule's.
func TestExtraFields(t *testing.T) {
	l := rules.NewLoader(fields.Syscall())
	if res := l.Load("t.yaml", "- rule: shell\n  desc: d\n  condition: evt.type=execve\n  output: shell %proc.name\n  priority: INFO\n  tags: [shell]\n"); !res.Successful {
		t.Fatal(res.Errors)
	}
	cfg, err := config.Load("", []string{`append_output=[{match: {source: syscall, tags: [shell]}, extra_fields: [proc.pid, {who: "%user.name on %proc.tty"}]}, {match: {source: k8s_audit}, extra_fields: [evt.num]}]`})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New[Event](Source{}, fields.Syscall(), l.Set(), cfg.EngineOptions())
	if err != nil {
		t.Fatal(err)
	}
	msg, vals := e.Rules()[0].Render(shellInContainer())
	want := map[string]any{"proc.name": "bash", "proc.pid": int64(1001), "who": "root on 34816"}
	if diff := cmp.Diff(want, vals); diff != "" || msg != "shell bash" {
		t.Errorf("output %q, output_fields (-want +got):\n%s", msg, diff)
	}
}
