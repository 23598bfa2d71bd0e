package audit

import (
	"bufio"
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/peregrine-sec/peregrine/internal/conformance"
	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/inspect"
)

// TestVerbIndexChangesNoMatch: with the rules bucketed by verb, every
// event of the recorded real traffic matches the same rules as when every
// rule is tried, for the upstream rules and the built-in ones; and the
// index does leave rules out.
func TestVerbIndexChangesNoMatch(t *testing.T) {
	opts := engine.DefaultOptions()
	opts.MatchAll = true
	var engines []*engine.Engine[Event]
	for _, files := range [][]string{nil, {filepath.Join(conformance.Dir(t), "rules", "k8s_audit_rules.yaml")}} {
		set, err := inspect.LoadValid(files)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New[Event](&Source{}, fields.K8sAudit(), set, opts)
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, eng)
	}
	data, want := realTraffic(t)
	n, fewer := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		e, err := NewEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		for _, eng := range engines {
			all := names(eng.MatchRules(e, eng.Rules(), nil, nil))
			if got := names(eng.Match(e, nil)); !slices.Equal(got, all) {
				t.Fatalf("event %d (%s %s): indexed %q, all rules %q", n, str(e.hot[hotVerb]), str(e.hot[hotURI]), got, all)
			}
			if len(eng.Candidates(e)) < len(eng.Rules()) {
				fewer++
			}
		}
	}
	if n != want {
		t.Fatalf("%d events, want %d", n, want)
	}
	if fewer < n {
		t.Errorf("the index left rules out for %d of %d evaluations", fewer, 2*n)
	}
}

func names(rs []*engine.Rule[Event]) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}
