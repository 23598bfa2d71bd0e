// Package manifests holds Peregrine's Kubernetes manifests; its test
// checks that they parse and keep the security settings they promise.
package manifests

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/config"
)

func docs(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, m)
	}
}

func TestManifestsParse(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	files = append(files, "audit-webhook.kubeconfig")
	kinds := map[string]int{}
	for _, f := range files {
		for _, d := range docs(t, f) {
			if d["apiVersion"] == nil || d["kind"] == nil {
				t.Errorf("%s: a document without apiVersion/kind", f)
			}
			kinds[d["kind"].(string)]++
		}
	}
	for _, k := range []string{"Namespace", "Deployment", "Service", "ServiceAccount", "ConfigMap", "Policy", "Config"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in manifests", k)
		}
	}
}

func TestServerHardening(t *testing.T) {
	b, _ := os.ReadFile("server.yaml")
	for _, want := range []string{"automountServiceAccountToken: false", "runAsNonRoot: true", "readOnlyRootFilesystem: true",
		"allowPrivilegeEscalation: false", "drop: [ALL]", "client_ca_file:", "allowed_client_names: [kube-apiserver]"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("server.yaml lacks %q", want)
		}
	}
}

// TestServerConfigLoads: the configuration shipped in the ConfigMap is
// valid for `peregrine serve`.
func TestServerConfigLoads(t *testing.T) {
	for _, d := range docs(t, "server.yaml") {
		if d["kind"] != "ConfigMap" {
			continue
		}
		path := filepath.Join(t.TempDir(), "peregrine.yaml")
		os.WriteFile(path, []byte(d["data"].(map[string]any)["peregrine.yaml"].(string)), 0o600)
		cfg, err := config.Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.K8sAudit.ClientCAFile == "" || cfg.K8sAudit.CertFile == "" {
			t.Errorf("shipped config serves without TLS client authentication: %+v", cfg.K8sAudit)
		}
		return
	}
	t.Fatal("no ConfigMap in server.yaml")
}
