package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestReferenceConfig keeps peregrine.yaml loadable and equal to the
// defaults it documents.
func TestReferenceConfig(t *testing.T) {
	cfg, err := Load("../peregrine.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.RulesFiles = []string{}
	want.K8sAudit.AllowedClientNames, want.Webserver.AllowedClientNames = []string{}, []string{}
	want.Agents.AllowedClientNames = []string{}
	want.Certificates.DNSNames = []string{}
	want.Agents.ServiceAccounts, want.Agents.Peers = []string{}, []string{}
	want.Admission.DNSNames, want.Admission.NamespaceModes = []string{}, map[string]string{}
	want.ProgramOutput.Program = "jq '{text: .output}'"
	want.AppendOutput = []AppendOutput{}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("peregrine.yaml differs from the defaults (-default +file):\n%s", diff)
	}
}
