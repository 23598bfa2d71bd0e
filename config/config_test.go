package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/peregrine-sec/peregrine/policies/rules"
)

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peregrine.yaml")
	os.WriteFile(path, []byte("rules_files: [/etc/a.yaml]\npriority: warning\nhttp_output:\n  enabled: true\n  url: http://x\n"), 0o644)
	cfg, err := Load(path, []string{"k8s_audit.listen_port=1234", "json_output=false", "file_output.enabled=true",
		"rules_files=[/x.yaml, /y.yaml]", "k8s_audit.retry_after=3s"})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.RulesFiles = Paths{"/x.yaml", "/y.yaml"}
	want.Priority = rules.Warning
	want.HTTPOutput.Enabled, want.HTTPOutput.URL = true, "http://x"
	want.K8sAudit.ListenPort = 1234
	want.K8sAudit.RetryAfter = 3 * time.Second
	want.JSONOutput = false
	want.FileOutput.Enabled = true
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

// TestRulesFilesScalar: one rules file may be given without brackets.
func TestRulesFilesScalar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peregrine.yaml")
	os.WriteFile(path, []byte("rules_files: /etc/a.yaml\n"), 0o644)
	for _, tt := range []struct {
		file      string
		overrides []string
		want      Paths
	}{
		{path, nil, Paths{"/etc/a.yaml"}},
		{"", []string{"rules_files=b.yaml"}, Paths{"b.yaml"}},
		{"", []string{"rules_files=[b.yaml, c/]"}, Paths{"b.yaml", "c/"}},
	} {
		cfg, err := Load(tt.file, tt.overrides)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, cfg.RulesFiles); diff != "" {
			t.Errorf("%s %q (-want +got):\n%s", tt.file, tt.overrides, diff)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	n := 0
	write := func(s string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", n))
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	tests := []struct {
		file      string
		overrides []string
		want      string
	}{
		{write("priority: loud\n"), nil, "config " + filepath.Join(dir, "c1.yaml") + ": line 1: invalid priority \"loud\" (want emergency, alert, critical, error, warning, notice, informational or debug)"},
		{write("json_output: true\nno_such_key: 1\n"), nil, "config " + filepath.Join(dir, "c2.yaml") + ": yaml: unmarshal errors:\n  line 2: field no_such_key not found in type config.Config"},
		{"", []string{"rule_matching=some"}, `rule_matching: "some" is not first or all`},
		{"", []string{"nokey"}, `override "nokey": want key=value`},
		{"", []string{"http_output.enabled=true"}, "http_output: enabled without url"},
	}
	for _, tt := range tests {
		_, err := Load(tt.file, tt.overrides)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Load(%q, %q) error = %v, want %q", tt.file, tt.overrides, err, tt.want)
		}
	}
}

// TestTextOnTerminal: alerts on a terminal are text unless json_output is
// set, in the file or with -o, either way.
func TestTextOnTerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peregrine.yaml")
	os.WriteFile(path, []byte("json_output: true\n"), 0o644)
	for _, tt := range []struct {
		file      string
		overrides []string
		terminal  bool
		want      bool
	}{
		{"", nil, true, false},
		{"", nil, false, true},
		{path, nil, true, true},
		{"", []string{"json_output=true"}, true, true},
		{"", []string{"json_output=false"}, false, false},
	} {
		cfg, err := Load(tt.file, tt.overrides)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TextOnTerminal(tt.terminal)
		if cfg.JSONOutput != tt.want {
			t.Errorf("%s %q on a terminal %v: json_output %v, want %v", tt.file, tt.overrides, tt.terminal, cfg.JSONOutput, tt.want)
		}
	}
}
