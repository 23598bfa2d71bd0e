package runtime

import (
	"testing"

	"github.com/peregrine-sec/peregrine/policies"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

func loadDefault(t testing.TB, l *rules.Loader) *rules.Set {
	t.Helper()
	if res := l.Load(policies.DefaultRulesName, policies.DefaultRules); !res.Successful {
		t.Fatalf("default rules: %v", res.Errors)
	}
	return l.Set()
}
