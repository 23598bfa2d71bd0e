package selftest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReport(t *testing.T) {
	checks := []*check{
		{Source: "k8s_admission", Rule: "Warn on latest image", Seen: true, Latency: 12 * time.Millisecond},
		{Source: "syscall", Rule: "Shell spawned in a container"},
	}
	var out strings.Builder
	err := report(&out, "peregrine-selftest-x", checks)
	want := "SOURCE         RULE                                          SEEN  LATENCY\n" +
		"k8s_admission  Warn on latest image                          true  12ms\n" +
		"syscall        Shell spawned in a container                  false -\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if err == nil || err.Error() != "selftest: 1 of 2 alerts did not come back (namespace peregrine-selftest-x)" {
		t.Errorf("error %v", err)
	}
	checks[1].Seen = true
	if err := report(&out, "ns", checks); err != nil {
		t.Errorf("all seen: %v", err)
	}
}

func TestAbout(t *testing.T) {
	for _, tt := range []struct {
		fields map[string]any
		want   bool
	}{
		{map[string]any{"ka.target.namespace": "ns"}, true},
		{map[string]any{"k8s.ns.name": "ns"}, true},
		{map[string]any{"k8s.ns.name": "other"}, false},
		{map[string]any{}, false},
	} {
		if got := (alert{OutputFields: tt.fields}).about("ns"); got != tt.want {
			t.Errorf("about(%v) = %v", tt.fields, got)
		}
	}
}
