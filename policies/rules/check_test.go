package rules

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConditionWarnings pins the warnings a condition can raise, with
// Falco's codes and texts.
func TestConditionWarnings(t *testing.T) {
	tests := []struct {
		cond, source string
		want         []string
	}{
		{"ka.verb = create and ka.target.subresource != <NA>", "k8s_audit", []string{string(WarnUnsafeNACheck) + ": " + msgUnsafeNA}},
		{"ka.verb in (create, <NA>)", "k8s_audit", []string{string(WarnUnsafeNACheck) + ": " + msgUnsafeNA}},
		{"ka.verb = create and not ka.target.subresource exists", "k8s_audit", nil},
		{"evt.type = open and proc.name = proc.pname", "syscall", []string{
			string(WarnCompileCondition) + ": 'proc.pname' may be a valid field misused as a const string value"}},
		{"proc.name = x", "syscall", []string{
			string(WarnNoEvttype) + ": Rule matches too many evt.type values. This has a significant performance penalty."}},
	}
	for _, tt := range tests {
		l := newTestLoader()
		res := l.Load("w.yaml", "- rule: r\n  desc: d\n  condition: "+tt.cond+"\n  output: o\n  priority: INFO\n  source: "+tt.source+"\n")
		if !res.Successful {
			t.Fatalf("%s: %v", tt.cond, res.Errors)
		}
		var got []string
		for _, w := range res.Warnings {
			got = append(got, string(w.Code)+": "+w.Message)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: warnings (-want +got):\n%s", tt.cond, diff)
		}
	}
}

// TestBrokenMacroReportedOnce: rules using a macro that does not compile
// are skipped without repeating its error.
func TestBrokenMacroReportedOnce(t *testing.T) {
	l := newTestLoader()
	rule := func(name string) string {
		return "- rule: " + name + "\n  desc: d\n  condition: evt.type = open and m\n  output: o\n  priority: INFO\n"
	}
	res := l.Load("b.yaml", "- macro: m\n  condition: proc.name = x and undefined_one\n"+rule("r1")+rule("r2"))
	var got []string
	for _, e := range res.Errors {
		got = append(got, e.Message)
	}
	if diff := cmp.Diff([]string{"Undefined macro 'undefined_one' used in filter."}, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if len(l.Set().Rules) != 0 {
		t.Errorf("%d rules compiled, want 0", len(l.Set().Rules))
	}
}
