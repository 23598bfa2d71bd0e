package main

import (
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/peregrine-sec/peregrine/config"
)

// TestRulesFlag: serve, run and agent take -r, repeatable, in place of
// rules_files whatever the configuration and -o say.
func TestRulesFlag(t *testing.T) {
	for _, c := range []*cobra.Command{serveCmd(), runCmd(), agentCmd()} {
		if f := c.Flags().ShorthandLookup("r"); f == nil || f.Name != "rules" {
			t.Errorf("%s has no -r/--rules", c.Name())
		}
	}
	f := configFlags{overrides: []string{"rules_files=[/etc/a.yaml]"}, rulesFiles: []string{"b.yaml", "rules.d/"}}
	cfg, err := f.load(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(config.Paths{"b.yaml", "rules.d/"}, cfg.RulesFiles); diff != "" {
		t.Errorf("rules_files (-want +got):\n%s", diff)
	}
	f.rulesFiles = nil
	if cfg, _ := f.load(io.Discard); !cmp.Equal(config.Paths{"/etc/a.yaml"}, cfg.RulesFiles) {
		t.Errorf("without -r, rules_files = %q", cfg.RulesFiles)
	}
}
