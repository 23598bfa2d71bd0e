package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-sec/peregrine/policies/condition"
	"github.com/peregrine-sec/peregrine/policies/fields"
)

// TestKeyValues: which verbs a condition needs, and where it needs none.
func TestKeyValues(t *testing.T) {
	tests := []struct {
		cond string
		want []string // nil: any verb
	}{
		{`ka.verb=create`, []string{"create"}},
		{`ka.verb == create`, []string{"create"}},
		{`ka.verb in (create, update, patch)`, []string{"create", "update", "patch"}},
		{`ka.target.resource=pods and ka.verb=delete and ka.user.name=x`, []string{"delete"}},
		{`(ka.verb=create or ka.verb in (update, patch)) and ka.target.resource=pods`, []string{"create", "update", "patch"}},
		{`ka.target.resource=pods and (ka.stage=a and ka.verb=get)`, []string{"get"}},
		{`ka.verb=create or ka.target.resource=pods`, nil},
		{`not ka.verb=create`, nil},
		{`ka.verb!=create`, nil},
		{`ka.verb startswith cre`, nil},
		{`ka.verb in (create) or not ka.verb=get`, nil},
		{`tolower(ka.verb)=create`, nil},
		{`ka.verb intersects (create)`, nil},
		{`ka.user.name=create`, nil},
		{`ka.verb exists`, nil},
	}
	cat := fields.K8sAudit()
	for _, tt := range tests {
		e, err := condition.Parse(tt.cond)
		if err != nil {
			t.Fatalf("%s: %v", tt.cond, err)
		}
		got, ok := keyValues(e, "ka.verb", cat)
		if ok != (tt.want != nil) {
			t.Errorf("%s: bounded = %v, want %v", tt.cond, ok, tt.want != nil)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: values (-want +got):\n%s", tt.cond, diff)
		}
	}
}
