package runtime

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/policies/engine"
	"github.com/peregrine-sec/peregrine/policies/fields"
	"github.com/peregrine-sec/peregrine/policies/rules"
)

// TestNameFields: fd.sip.name = NAME holds when NAME resolves to the
// server address, as Falco's DNS manager decides; outputs show <NA>.
func TestNameFields(t *testing.T) {
	zone := map[string][]netip.Addr{"api.example": {netip.MustParseAddr("203.0.113.9")}}
	names := NewNames(func(_ context.Context, host string) ([]netip.Addr, error) { return zone[host], nil },
		time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		cond string
		want bool
	}{
		{`fd.sip.name = api.example`, true},
		{`fd.rip.name in (other.example, api.example)`, true},
		{`fd.sip.name != api.example`, false},
		{`fd.cip.name = api.example`, false},
		{`fd.sip.name = other.example`, false},
	}
	for _, tt := range tests {
		l := rules.NewLoader(fields.Syscall())
		res := l.Load("t.yaml", "- rule: r\n  desc: d\n  condition: evt.type = connect and "+tt.cond+"\n  output: o %fd.sip.name\n  priority: INFO\n")
		if !res.Successful {
			t.Fatalf("%s: %v", tt.cond, res.Errors)
		}
		e, err := engine.New[Event](Source{Names: names}, fields.Syscall(), l.Set(), engine.DefaultOptions())
		if err != nil {
			t.Fatalf("%s: %v", tt.cond, err)
		}
		names.resolveAll(context.Background()) // what Start does in the background
		ev := connectEvent()
		got := e.Match(ev, nil)
		if (len(got) == 1) != tt.want {
			t.Errorf("%s: matched %v, want %v", tt.cond, len(got) == 1, tt.want)
		}
		if len(got) == 1 {
			if msg, _ := got[0].Output.Render(ev); msg != "o <NA>" {
				t.Errorf("%s: output %q", tt.cond, msg)
			}
		}
	}
	// Without a resolver (offline replay) the fields are not extracted.
	f, _, _ := fields.Syscall().Lookup("fd.sip.name")
	if _, ok := (Source{}).Accessor(f, ""); ok {
		t.Error("fd.sip.name extracted without a resolver")
	}
}
